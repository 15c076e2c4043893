/*
 * The VAE's building blocks, ported from LDM `ldm/modules/diffusionmodules/model.py` (Stability-AI/stablediffusion
 * @ cf1d67a6): ResnetBlock (no time embedding), AttnBlock (single-head spatial attention), Upsample (nearest ×2 +
 * 3×3 conv), Downsample (pad right/bottom by 1, then 3×3 stride-2 conv). Normalize = GroupNorm(32, eps 1e-6).
 */
import type { Graph, Value } from '../../graph/builder.ts'
import type { Dim } from '../../graph/proto.ts'
import { isKnown, unknownDim } from '../../graph/shape.ts'
import * as op from '../../graph/ops.ts'
import type { Bound } from '../../nn/module.ts'
import { conv2d, conv2dForward, groupNormPreciseForward, linear, norm, silu, type Conv2d } from '../../nn/layers.ts'
import type { VaeAttnLayout } from './config.ts'

const GROUPS = 32
const EPS = 1e-6

/**
 * GroupNorm as InstanceNormalization + affine (nn/layers groupNormPreciseForward), not GroupNormalization-21: ORT runs
 * that as its function expansion (Cast, ReduceMean, Sub, Pow, Div, … over the whole tensor), and at the decoder's
 * full resolution ([1, 128, 512, 512] = 128 MB per copy) those passes and copies cost time and peak memory.
 */
export const normalize = (g: Graph, p: Bound<ReturnType<typeof norm>>, x: Value): Value => groupNormPreciseForward(g, p, x, GROUPS, EPS)

const resnetBase = (inC: number, outC: number) => ({
  norm1: norm(inC), conv1: conv2d(inC, outC, 3), norm2: norm(outC), conv2: conv2d(outC, outC, 3),
})
type ResnetBase = ReturnType<typeof resnetBase>
export type ResnetBlock = ResnetBase | (ResnetBase & { nin_shortcut: Conv2d })
/** ResnetBlock; `nin_shortcut` (1×1) only where the channel count changes. */
export const resnetBlock = (inC: number, outC: number): ResnetBlock =>
  (inC === outC ? resnetBase(inC, outC) : { ...resnetBase(inC, outC), nin_shortcut: conv2d(inC, outC, 1) })

// x [B, in, H, W] → [B, out, H, W]. The shortcut is emitted first so that x (the decoder's largest tensor in
// up.0.block.0: [1, 256, 512, 512] at 512²) can be freed once norm1 has read it.
export function resnetBlockForward(g: Graph, p: Bound<ResnetBlock>, x: Value): Value {
  const skip = 'nin_shortcut' in p ? conv2dForward(g, p.nin_shortcut, x) : x
  let h = conv2dForward(g, p.conv1, silu(g, normalize(g, p.norm1, x)), { pad: 1 })
  h = conv2dForward(g, p.conv2, silu(g, normalize(g, p.norm2, h)), { pad: 1 })
  return op.add(g, skip, h)
}

const attnProj = (c: number, layout: VaeAttnLayout) => (layout === 'conv' ? conv2d(c, c, 1) : linear(c, c))
export const attnBlock = (c: number, layout: VaeAttnLayout) => ({
  norm: norm(c), q: attnProj(c, layout), k: attnProj(c, layout), v: attnProj(c, layout), proj_out: attnProj(c, layout),
})
export type AttnBlock = ReturnType<typeof attnBlock>

/** A 1×1 projection whichever way the file stores it ([C, C, 1, 1] conv or [C, C] Linear, made 4-D here). */
function proj(g: Graph, p: Bound<Conv2d>, x: Value): Value {
  const w = p.weight.shape.length === 4 ? p.weight : op.reshape(g, p.weight, [0, 0, 1, 1])
  return op.conv(g, x, w, p.bias)
}

// x [B, C, H, W] → [B, C, H, W]; softmax over the HW keys of (q·k)/√C, as LDM's AttnBlock
export function attnBlockForward(g: Graph, p: Bound<AttnBlock>, x: Value): Value {
  const c = x.shape[1] as number
  const h = normalize(g, p.norm, x)
  const flat = (v: Value): Value => op.reshape(g, v, [0, c, -1])                            // [B, C, HW]
  const q = op.transpose(g, flat(op.mul(g, proj(g, p.q, h), op.scalarF32(g, 1 / Math.sqrt(c)))), [0, 2, 1])  // [B, HW, C]
  const probs = op.softmax(g, op.matmul(g, q, flat(proj(g, p.k, h))), -1)                  // [B, HW, HW]
  const vT = op.transpose(g, flat(proj(g, p.v, h)), [0, 2, 1])                              // [B, HW, C]
  const out = op.transpose(g, op.matmul(g, probs, vT), [0, 2, 1])                           // [B, C, HW]
  return op.add(g, x, proj(g, p.proj_out, op.reshapeAs(g, out, x)))
}

export const resample = (c: number) => ({ conv: conv2d(c, c, 3) })
export type Resample = ReturnType<typeof resample>

/**
 * A 3-tap kernel axis (2 = rows, 3 = columns) folded into the two taps each output phase reads after a nearest ×2
 * upsample: output row 2i reads input rows i−1 (tap 0) and i (taps 1 and 2); row 2i+1 reads i (taps 0 and 1) and
 * i+1 (tap 2).
 */
function foldTaps(g: Graph, w: Value, axis: number): [Value, Value] {
  const [k0, k1, k2] = [0, 1, 2].map((i) => op.slice(g, w, axis, i, i + 1))
  return [op.concat(g, [k0, op.add(g, k1, k2)], axis), op.concat(g, [op.add(g, k0, k1), k2], axis)]
}

/** DepthToSpace (DCR, block 2): channel (a·2 + b)·C + c → pixel (2i + a, 2j + b) of channel c. */
function depthToSpace2(g: Graph, x: Value): Value {
  const [n, c, h, w] = x.shape
  const dbl = (d: Dim): Dim => (isKnown(d) ? d * 2 : unknownDim('d2s'))
  const shape = [n, isKnown(c) ? c / 4 : unknownDim('d2s'), dbl(h), dbl(w)]
  return g.node({ op: 'DepthToSpace', inputs: [x], attrs: { blocksize: 2, mode: 'DCR' }, outputs: [{ dtype: x.dtype, shape }] })[0]
}

/**
 * Nearest ×2 then 3×3 conv (LDM Upsample), [B, C, H, W] → [B, C, 2H, 2W], computed as four 2×2 convs on the
 * low-resolution input, one per output phase, interleaved by DepthToSpace: 16 multiply-adds per input pixel and
 * channel pair instead of 36, and no upsampled copy of the input (the three upsample convs were ~25% of the decode).
 */
export function upsampleForward(g: Graph, p: Bound<Resample>, x: Value): Value {
  const rows = foldTaps(g, p.conv.weight, 2)                                                 // [C, C, 2, 3] per row phase
  const phases: Value[] = []
  for (const a of [0, 1]) {
    const cols = foldTaps(g, rows[a], 3)                                                     // [C, C, 2, 2]
    for (const b of [0, 1]) phases.push(op.conv(g, x, cols[b], p.conv.bias, { pads: [1 - a, 1 - b, a, b] }))
  }
  return depthToSpace2(g, op.concat(g, phases, 1))                                           // [B, 4C, H, W] → [B, C, 2H, 2W]
}

// torch pad (0, 1, 0, 1) = one zero row at the bottom, one zero column at the right, then stride 2 with no padding
export const downsampleForward = (g: Graph, p: Bound<Resample>, x: Value): Value =>
  op.conv(g, x, p.conv.weight, p.conv.bias, { pads: [0, 0, 1, 1], strides: [2, 2] })
