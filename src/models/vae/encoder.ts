/*
 * VAE encoder graph: image [B, 3, H, W] in [-1, 1] → posterior moments: mean and logvar [B, z, H/8, W/8]
 * (LDM model.py Encoder, then quant_conv; DiagonalGaussianDistribution clamps logvar to [-30, 20]).
 * The sampled latent is mean + exp(logvar / 2) · noise; the pipeline draws the noise and applies the scale factor.
 */
import { Graph, type Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2d, conv2dForward, norm, silu } from '../../nn/layers.ts'
import { keyedBinder, type ShapeSource } from '../../nn/module.ts'
import { attnBlock, attnBlockForward, downsampleForward, normalize, resample, resnetBlock, resnetBlockForward, type Resample, type ResnetBlock } from './blocks.ts'
import type { VaeHalfConfig } from './config.ts'
import type { BuiltVaeGraph } from './decoder.ts'

type DownLevel = { block: ResnetBlock[] } | { block: ResnetBlock[]; downsample: Resample }

export const encoderTree = (cfg: VaeHalfConfig) => {
  let blockIn = cfg.convInChannels
  const last = cfg.levels.length - 1
  const down = cfg.levels.map((out, i): DownLevel => {
    const block = Array.from({ length: cfg.blocksPerLevel }, (_, j) => resnetBlock(j === 0 ? blockIn : out, out))
    blockIn = out
    return i === last ? { block } : { block, downsample: resample(out) }
  })
  const mid = cfg.levels[last]
  return {
    conv_in: conv2d(cfg.imageChannels, cfg.convInChannels, 3),
    down,
    mid: { block_1: resnetBlock(mid, mid), attn_1: attnBlock(mid, cfg.attnLayout), block_2: resnetBlock(mid, mid) },
    norm_out: norm(mid),
    conv_out: conv2d(mid, 2 * cfg.zChannels, 3),
  }
}

export function buildVaeEncoderGraph(src: ShapeSource, cfg: VaeHalfConfig): BuiltVaeGraph {
  const g = new Graph('vae-encoder')
  const b = keyedBinder(g, src, 'VAE encoder')
  const p = b.bind(encoderTree(cfg), `${cfg.prefix}encoder.`)
  const qc = b.bind(conv2d(2 * cfg.zChannels, 2 * cfg.zChannels, 1), `${cfg.prefix}quant_conv.`)
  const image = g.input('image', 'float32', ['batch', cfg.imageChannels, 'height', 'width'])
  let x: Value = g.scope('conv_in', () => conv2dForward(g, p.conv_in, image, { pad: 1 }))
  p.down.forEach((level, i) => {
    level.block.forEach((blk, j) => { x = g.scope(`down.${i}.block.${j}`, () => resnetBlockForward(g, blk, x)) })
    if ('downsample' in level) x = g.scope(`down.${i}.downsample`, () => downsampleForward(g, level.downsample, x))
  })
  x = g.scope('mid.block_1', () => resnetBlockForward(g, p.mid.block_1, x))
  x = g.scope('mid.attn_1', () => attnBlockForward(g, p.mid.attn_1, x))
  x = g.scope('mid.block_2', () => resnetBlockForward(g, p.mid.block_2, x))
  x = g.scope('norm_out', () => conv2dForward(g, p.conv_out, silu(g, normalize(g, p.norm_out, x)), { pad: 1 }))
  const moments = g.scope('quant_conv', () => conv2dForward(g, qc, x))                    // [B, 2z, h, w]
  g.output('mean', op.slice(g, moments, 1, 0, cfg.zChannels))
  g.output('logvar', op.clip(g, op.slice(g, moments, 1, cfg.zChannels, 2 * cfg.zChannels), -30, 20))
  return { graph: g, weightKeys: b.keys }
}
