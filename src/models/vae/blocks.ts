/*
 * The VAE's building blocks, ported from LDM `ldm/modules/diffusionmodules/model.py` (Stability-AI/stablediffusion
 * @ cf1d67a6): ResnetBlock (no time embedding), AttnBlock (single-head spatial attention), Upsample (nearest ×2 +
 * 3×3 conv), Downsample (pad right/bottom by 1, then 3×3 stride-2 conv). Normalize = GroupNorm(32, eps 1e-6).
 */
import type { Graph, Value } from '../../graph/builder.ts'
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

// x [B, in, H, W] → [B, out, H, W]
export function resnetBlockForward(g: Graph, p: Bound<ResnetBlock>, x: Value): Value {
  let h = conv2dForward(g, p.conv1, silu(g, normalize(g, p.norm1, x)), { pad: 1 })
  h = conv2dForward(g, p.conv2, silu(g, normalize(g, p.norm2, h)), { pad: 1 })
  const skip = 'nin_shortcut' in p ? conv2dForward(g, p.nin_shortcut, x) : x
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

// nearest ×2 then 3×3 conv: [B, C, H, W] → [B, C, 2H, 2W]
export const upsampleForward = (g: Graph, p: Bound<Resample>, x: Value): Value =>
  conv2dForward(g, p.conv, op.upsample2x(g, x), { pad: 1 })

// torch pad (0, 1, 0, 1) = one zero row at the bottom, one zero column at the right, then stride 2 with no padding
export const downsampleForward = (g: Graph, p: Bound<Resample>, x: Value): Value =>
  op.conv(g, x, p.conv.weight, p.conv.bias, { pads: [0, 0, 1, 1], strides: [2, 2] })
