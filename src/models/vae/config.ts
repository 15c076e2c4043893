/*
 * AutoencoderKL (LDM `ldm/modules/diffusionmodules/model.py` Encoder/Decoder) config measured from shapes, so the
 * tiny reference VAEs (ch 32) and the real ones (ch 128, mult 1,2,4,4) run the same code.
 * https://github.com/Stability-AI/stablediffusion/blob/cf1d67a6/ldm/modules/diffusionmodules/model.py
 */
import { UnknownModelError } from '../../core/errors.ts'
import type { ShapeSource } from '../../nn/module.ts'

/** Mid-block attention q/k/v/proj_out: LDM stores 1×1 conv weights [C, C, 1, 1]; some files store Linear [C, C]. */
export type VaeAttnLayout = 'conv' | 'linear'

export interface VaeHalfConfig {
  /** Key prefix of the autoencoder, ending in '.' ('first_stage_model.' in checkpoints). */
  readonly prefix: string
  /** Latent channels z (4 for SD1/SD2/SDXL). */
  readonly zChannels: number
  /** Image channels (3). */
  readonly imageChannels: number
  /** Width of conv_in's output (encoder) or input to the first up level (decoder: the mid width). */
  readonly convInChannels: number
  /** Output channels of each resolution level, full resolution first (SD: 128, 256, 512, 512). */
  readonly levels: readonly number[]
  /** ResnetBlocks per level (encoder: num_res_blocks; decoder: num_res_blocks + 1). */
  readonly blocksPerLevel: number
  readonly attnLayout: VaeAttnLayout
}

function need(src: ShapeSource, key: string, what: string): readonly number[] {
  if (!src.has(key)) {
    throw new UnknownModelError(src.file, `tensor "${key}" not found while measuring the VAE ${what}. `
      + 'Hint: checkpoints keep the VAE under "first_stage_model."; a separate VAE file is renamed into that prefix on load.')
  }
  return src.shape(key)
}

const count = (src: ShapeSource, key: (i: number) => string): number => { let n = 0; while (src.has(key(n))) n++; return n }

function attnLayout(src: ShapeSource, key: string, what: string): VaeAttnLayout {
  return need(src, key, what).length === 4 ? 'conv' : 'linear'
}

export function measureVaeDecoder(src: ShapeSource, prefix: string): VaeHalfConfig {
  const p = `${prefix}decoder.`
  const what = 'decoder'
  const convIn = need(src, `${p}conv_in.weight`, what)
  const nLevels = count(src, (i) => `${p}up.${i}.block.0.conv1.weight`)
  if (nLevels === 0) need(src, `${p}up.0.block.0.conv1.weight`, what)
  return {
    prefix, zChannels: convIn[1], convInChannels: convIn[0],
    imageChannels: need(src, `${p}conv_out.weight`, what)[0],
    levels: Array.from({ length: nLevels }, (_, i) => src.shape(`${p}up.${i}.block.0.conv1.weight`)[0]),
    blocksPerLevel: count(src, (j) => `${p}up.0.block.${j}.conv1.weight`),
    attnLayout: attnLayout(src, `${p}mid.attn_1.q.weight`, what),
  }
}

export function measureVaeEncoder(src: ShapeSource, prefix: string): VaeHalfConfig {
  const p = `${prefix}encoder.`
  const what = 'encoder'
  const convIn = need(src, `${p}conv_in.weight`, what)
  const nLevels = count(src, (i) => `${p}down.${i}.block.0.conv1.weight`)
  if (nLevels === 0) need(src, `${p}down.0.block.0.conv1.weight`, what)
  return {
    prefix, imageChannels: convIn[1], convInChannels: convIn[0],
    zChannels: need(src, `${p}conv_out.weight`, what)[0] / 2,
    levels: Array.from({ length: nLevels }, (_, i) => src.shape(`${p}down.${i}.block.0.conv1.weight`)[0]),
    blocksPerLevel: count(src, (j) => `${p}down.0.block.${j}.conv1.weight`),
    attnLayout: attnLayout(src, `${p}mid.attn_1.q.weight`, what),
  }
}
