/*
 * The UNet's parameter tree (property paths = checkpoint keys under `model.diffusion_model.`) and the block plan
 * that says what each numbered block is. Follows sgm `UNetModel.__init__` block numbering:
 * https://github.com/Stability-AI/generative-models/blob/45c443b3/sgm/modules/diffusionmodules/openaimodel.py
 */
import { conv2d, linear, norm } from '../../nn/layers.ts'
import { NONE } from '../../nn/module.ts'
import type { Conv2d } from '../../nn/layers.ts'
import type { UnetConfig } from '../config/unet-config.ts'
import { downsample, resBlock, upsample, type Downsample, type ResBlock, type Upsample } from './res-block.ts'
import { spatialTransformer, type SpatialTransformer } from './spatial-transformer.ts'

/** A ResBlock (+ SpatialTransformer when `attn`, + Upsample when `up`); `level` indexes channelMult. */
export interface ResPlan {
  readonly kind: 'res'
  readonly level: number
  readonly attn: boolean
  readonly up: boolean
  /** A1111 mode: resize h to the skip's size before the concat (first block after an Upsample). */
  readonly resizeToSkip: boolean
}

/** What one numbered block holds. */
export type BlockPlan = { readonly kind: 'conv_in' } | { readonly kind: 'down' } | ResPlan

export interface UnetPlan {
  readonly input: readonly BlockPlan[]
  readonly output: readonly ResPlan[]
  readonly middleAttn: boolean
}

export function unetPlan(c: UnetConfig): UnetPlan {
  const levels = c.channelMult.length
  const input: BlockPlan[] = [{ kind: 'conv_in' }]
  const output: ResPlan[] = []
  for (let l = 0; l < levels; l++) {
    for (let r = 0; r < c.numResBlocks; r++) input.push({ kind: 'res', level: l, attn: c.attentionLevels[l], up: false, resizeToSkip: false })
    if (l < levels - 1) input.push({ kind: 'down' })
  }
  for (let l = levels - 1; l >= 0; l--) {
    for (let r = 0; r <= c.numResBlocks; r++) {
      // The first block after an Upsample may see a doubled size larger than its skip (A1111 mode, odd sides).
      output.push({ kind: 'res', level: l, attn: c.attentionLevels[l], up: l > 0 && r === c.numResBlocks, resizeToSkip: r === 0 && l < levels - 1 })
    }
  }
  return { input, output, middleAttn: c.transformerDepthMiddle > 0 }
}

/** Channels of every skip connection, in push order (conv_in, then each input block). */
export function skipChannels(c: UnetConfig, plan: UnetPlan): number[] {
  let ch = c.modelChannels
  return plan.input.map((b) => (b.kind === 'res' ? (ch = c.modelChannels * c.channelMult[b.level]) : ch))
}

/** One numbered block's layers (kinds per BlockPlan). */
export type BlockTree = readonly (Conv2d | ResBlock | SpatialTransformer | Downsample | Upsample)[]

const embedMlp = (inF: number, outF: number) => [linear(inF, outF), NONE /* SiLU */, linear(outF, outF)] as const

export function unetTree(c: UnetConfig, plan: UnetPlan = unetPlan(c)) {
  const mc = c.modelChannels
  const T = c.timeEmbedDim
  const chAt = (level: number) => mc * c.channelMult[level]
  const attnAt = (ch: number, depth: number) => spatialTransformer(ch, c.contextDim, depth, c.linearProj)
  const skips = skipChannels(c, plan)
  let ch = mc
  const input_blocks = plan.input.map((b): BlockTree => {
    if (b.kind === 'conv_in') return [conv2d(c.inChannels, mc, 3)]
    if (b.kind === 'down') return [downsample(ch)]
    const res = resBlock(ch, T, chAt(b.level))
    ch = chAt(b.level)
    return b.attn ? [res, attnAt(ch, c.transformerDepth[b.level])] : [res]
  })
  const middle_block: BlockTree = plan.middleAttn
    ? [resBlock(ch, T, ch), attnAt(ch, c.transformerDepthMiddle), resBlock(ch, T, ch)]
    : [resBlock(ch, T, ch), resBlock(ch, T, ch)]
  const output_blocks = plan.output.map((b): BlockTree => {
    const res = resBlock(ch + skips.pop()!, T, chAt(b.level))
    ch = chAt(b.level)
    return [res, ...(b.attn ? [attnAt(ch, c.transformerDepth[b.level])] : []), ...(b.up ? [upsample(ch)] : [])]
  })
  return {
    time_embed: embedMlp(mc, T),
    ...(c.admInChannels > 0 ? { label_emb: [embedMlp(c.admInChannels, T)] as const } : {}),
    input_blocks,
    middle_block,
    output_blocks,
    out: [norm(mc), NONE /* SiLU */, conv2d(mc, c.outChannels, 3)] as const,
  }
}
export type UnetTree = ReturnType<typeof unetTree>
