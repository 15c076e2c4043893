/*
 * VAE decoder graph: z (UNSCALED latent, i.e. sampler latent / scale factor) [B, z, h, w] → image [B, 3, 8h, 8w]
 * in about [-1, 1], not clamped. post_quant_conv → Decoder (LDM model.py Decoder: conv_in, mid block_1/attn_1/block_2,
 * up levels from the lowest resolution up, norm_out, SiLU, conv_out).
 */
import { Graph, type Value } from '../../graph/builder.ts'
import { conv2d, conv2dForward, norm, silu } from '../../nn/layers.ts'
import { keyedBinder, type ShapeSource } from '../../nn/module.ts'
import { attnBlock, attnBlockForward, normalize, resample, resnetBlock, resnetBlockForward, upsampleForward, type Resample, type ResnetBlock } from './blocks.ts'
import type { VaeHalfConfig } from './config.ts'

type UpLevel = { block: ResnetBlock[] } | { block: ResnetBlock[]; upsample: Resample }

export const decoderTree = (cfg: VaeHalfConfig) => {
  const mid = cfg.convInChannels
  let blockIn = mid
  const up = [...cfg.levels.keys()].reverse().map((i) => {
    const out = cfg.levels[i]
    const block = Array.from({ length: cfg.blocksPerLevel }, (_, j) => resnetBlock(j === 0 ? blockIn : out, out))
    blockIn = out
    const level: UpLevel = i === 0 ? { block } : { block, upsample: resample(out) }
    return { i, level }
  }).sort((a, b) => a.i - b.i).map((l) => l.level)
  return {
    conv_in: conv2d(cfg.zChannels, mid, 3),
    mid: { block_1: resnetBlock(mid, mid), attn_1: attnBlock(mid, cfg.attnLayout), block_2: resnetBlock(mid, mid) },
    up,
    norm_out: norm(cfg.levels[0]),
    conv_out: conv2d(cfg.levels[0], cfg.imageChannels, 3),
  }
}

export interface BuiltVaeGraph { readonly graph: Graph; readonly weightKeys: readonly string[] }

export function buildVaeDecoderGraph(src: ShapeSource, cfg: VaeHalfConfig): BuiltVaeGraph {
  const g = new Graph('vae-decoder')
  const b = keyedBinder(g, src, 'VAE decoder')
  const pq = b.bind(conv2d(cfg.zChannels, cfg.zChannels, 1), `${cfg.prefix}post_quant_conv.`)
  const p = b.bind(decoderTree(cfg), `${cfg.prefix}decoder.`)
  const z = g.input('z', 'float32', ['batch', cfg.zChannels, 'h', 'w'])
  let x: Value = g.scope('post_quant_conv', () => conv2dForward(g, pq, z))
  x = g.scope('conv_in', () => conv2dForward(g, p.conv_in, x, { pad: 1 }))
  x = g.scope('mid.block_1', () => resnetBlockForward(g, p.mid.block_1, x))
  x = g.scope('mid.attn_1', () => attnBlockForward(g, p.mid.attn_1, x))
  x = g.scope('mid.block_2', () => resnetBlockForward(g, p.mid.block_2, x))
  for (let i = cfg.levels.length - 1; i >= 0; i--) {
    const level = p.up[i]
    level.block.forEach((blk, j) => { x = g.scope(`up.${i}.block.${j}`, () => resnetBlockForward(g, blk, x)) })
    if ('upsample' in level) x = g.scope(`up.${i}.upsample`, () => upsampleForward(g, level.upsample, x))
  }
  x = g.scope('norm_out', () => conv2dForward(g, p.conv_out, silu(g, normalize(g, p.norm_out, x)), { pad: 1 }))
  g.output('image', x)
  return { graph: g, weightKeys: b.keys }
}
