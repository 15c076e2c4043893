/*
 * The RRDBNet forward pass (basicsr/archs/rrdbnet_arch.py @ 8b5b3cd, RRDBNet.forward) as an ONNX graph over the
 * measured layout (layout.ts). Weights are graph inputs named by their BasicSR keys.
 *   feat = conv_first(pixel_unshuffle(x, r))            r = 1, 2 or 4
 *   feat = feat + conv_body(RRDB_n(…RRDB_1(feat)))       RRDB(x) = 0.2·rdb3(rdb2(rdb1(x))) + x
 *   feat = lrelu(conv_up_k(nearest×2(feat)))             for each upsampling stage
 *   out  = conv_last(lrelu(conv_hr(feat)))
 */
import { Graph, type Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2dForward, type Conv2d } from '../../nn/layers.ts'
import { keyedBinder, type Bound, type ShapeSource } from '../../nn/module.ts'
import { upsampleForward } from '../vae/blocks.ts'
import { esrganTree, upsampleTree, type DenseBlock, type EsrganConfig, type Rrdb } from './layout.ts'

export interface BuiltEsrganGraph { readonly graph: Graph; readonly weightKeys: readonly string[] }

/** nn.LeakyReLU(negative_slope=0.2), the only activation RRDBNet uses. */
const lrelu = (g: Graph, x: Value): Value =>
  g.node({ op: 'LeakyRelu', inputs: [x], attrs: { alpha: { float: 0.2 } }, outputs: [{ dtype: x.dtype, shape: x.shape }] })[0]

/** a·0.2 + b (torch: `x5 * 0.2 + x`, float32 multiply then add). */
const residual = (g: Graph, a: Value, b: Value): Value => op.add(g, op.mul(g, a, op.scalarF32(g, 0.2)), b)

const conv3 = (g: Graph, p: Bound<Conv2d>, x: Value): Value => conv2dForward(g, p, x, { pad: 1 })

// x [B, F, h, w] → [B, F, h, w]; conv_j sees cat(x, x1, …, x_{j-1}) on channels
function denseBlockForward(g: Graph, p: Bound<DenseBlock>, x: Value): Value {
  const feats = [x]
  for (const conv of [p.conv1, p.conv2, p.conv3, p.conv4]) feats.push(lrelu(g, conv3(g, conv, op.concat(g, feats, 1))))
  return residual(g, conv3(g, p.conv5, op.concat(g, feats, 1)), x)
}

const rrdbForward = (g: Graph, p: Bound<Rrdb>, x: Value): Value =>
  residual(g, denseBlockForward(g, p.rdb3, denseBlockForward(g, p.rdb2, denseBlockForward(g, p.rdb1, x))), x)

/**
 * torch pixel_unshuffle(x, r): [B, C, H, W] → [B, C·r², H/r, W/r], output channel c·r² + i·r + j = x[c, r·y + i, r·x + j].
 * A stride-r conv with a one-hot kernel computes exactly that (each output is one input times 1, plus zeros), in
 * torch's channel order (ONNX SpaceToDepth orders channels block-first instead).
 */
function pixelUnshuffle(g: Graph, x: Value, channels: number, r: number): Value {
  const w = new Array<number>(channels * r * r * channels * r * r).fill(0)
  for (let c = 0; c < channels; c++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    const o = c * r * r + i * r + j
    w[((o * channels + c) * r + i) * r + j] = 1
  }
  return op.conv(g, x, op.constF32(g, w, [channels * r * r, channels, r, r]), undefined, { strides: [r, r] })
}

/** image [1, C, H, W] in [0, 1] (H, W multiples of `unshuffle`) → [1, C, H·scale, W·scale], not clamped. */
export function buildEsrganGraph(src: ShapeSource, cfg: EsrganConfig): BuiltEsrganGraph {
  const g = new Graph('esrgan')
  const b = keyedBinder(g, src, 'ESRGAN (RRDBNet)')
  const p = b.bind(esrganTree(cfg), '')
  const ups = Array.from({ length: cfg.upsamples }, (_, i) => b.bind(upsampleTree(cfg), `conv_up${i + 1}`))
  const image = g.input('image', 'float32', [1, cfg.channels, 'h', 'w'])
  const input = cfg.unshuffle > 1 ? pixelUnshuffle(g, image, cfg.channels, cfg.unshuffle) : image
  let feat = g.scope('conv_first', () => conv3(g, p.conv_first, input))
  let body = feat
  for (let i = 0; i < cfg.blocks; i++) body = g.scope(`body.${i}`, () => rrdbForward(g, p.body[i], body))
  feat = op.add(g, feat, g.scope('conv_body', () => conv3(g, p.conv_body, body)))
  // nearest ×2 then 3×3 conv, computed as four 2×2 convs interleaved (vae/blocks.ts: the same sums, 16 not 36 MACs)
  for (const [i, conv] of ups.entries()) feat = g.scope(`conv_up${i + 1}`, () => lrelu(g, upsampleForward(g, { conv }, feat)))
  const out = g.scope('conv_last', () => conv3(g, p.conv_last, lrelu(g, conv3(g, p.conv_hr, feat))))
  g.output('upscaled', out)
  return { graph: g, weightKeys: b.keys }
}
