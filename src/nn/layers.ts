/** Parameter trees and forwards of the basic layers, in torch's layouts (weights as torch stores them). */
import type { Graph, Value } from '../graph/builder.ts'
import * as op from '../graph/ops.ts'
import { withLowRank } from './low-rank.ts'
import { param, type Bound } from './module.ts'

// Typed as Linear/Conv2d (bias?: Param) so trees built from them stay assignable to module.ts's Tree.
export const linear = (inF: number, outF: number, bias = true): Linear =>
  (bias ? { weight: param(outF, inF), bias: param(outF) } : { weight: param(outF, inF) })
export type Linear = { weight: ReturnType<typeof param>; bias?: ReturnType<typeof param> }

/** x [..., in] → [..., out]: flattened to 2-D for Gemm (transB: the torch [out, in] weight is used as stored). */
export function linearForward(g: Graph, p: Bound<Linear>, x: Value): Value {
  const rank = x.shape.length
  if (rank === 2) return withLowRank(g, p.weight, x, op.gemmTransB(g, x, p.weight, p.bias))
  const y = op.gemmTransB(g, op.reshape(g, x, [-1, x.shape[rank - 1] as number]), p.weight, p.bias)
  return withLowRank(g, p.weight, x, op.reshapeLike(g, y, x, rank - 1, [p.weight.shape[0] as number]))
}

export const conv2d = (inC: number, outC: number, k: number, bias = true): Conv2d =>
  (bias ? { weight: param(outC, inC, k, k), bias: param(outC) } : { weight: param(outC, inC, k, k) })
export type Conv2d = { weight: ReturnType<typeof param>; bias?: ReturnType<typeof param> }

export function conv2dForward(g: Graph, p: Bound<Conv2d>, x: Value, a: { pad?: number; stride?: number } = {}): Value {
  const pad = a.pad ?? 0
  const s = a.stride ?? 1
  const geometry = { pads: [pad, pad, pad, pad], strides: [s, s] } as const
  return withLowRank(g, p.weight, x, op.conv(g, x, p.weight, p.bias, geometry), geometry)
}

export const norm = (c: number) => ({ weight: param(c), bias: param(c) })
export type Norm = ReturnType<typeof norm>

export const groupNormForward = (g: Graph, p: Bound<Norm>, x: Value, groups = 32, eps = 1e-5): Value =>
  op.groupNorm(g, x, p.weight, p.bias, { numGroups: groups, epsilon: eps })

export const layerNormForward = (g: Graph, p: Bound<Norm>, x: Value, eps = 1e-5): Value =>
  op.layerNorm(g, x, p.weight, p.bias, eps)

export const silu = (g: Graph, x: Value): Value => op.mul(g, x, op.sigmoid(g, x))

/** CLIP's quick_gelu: x · σ(1.702 x). */
export const quickGelu = (g: Graph, x: Value): Value => op.mul(g, x, op.sigmoid(g, op.mul(g, x, op.scalarF32(g, 1.702))))

/**
 * GroupNorm as InstanceNormalization over [B, groups, C/groups·H·W], then the per-channel affine. Same result as
 * groupNormForward, with fewer rounding errors: onnxruntime's GroupNormalization-21 (run as its function expansion)
 * loses digits when a group's mean is large next to its spread (the tiny SD2 UNet golden at t=999 moved by 1.1e-4).
 */
export function groupNormPreciseForward(g: Graph, p: Bound<Norm>, x: Value, groups = 32, eps = 1e-5): Value {
  const c = x.shape[1] as number
  const ones = op.constF32(g, new Array<number>(groups).fill(1))
  const zeros = op.constF32(g, new Array<number>(groups).fill(0))
  const n = op.instanceNorm(g, op.reshape(g, x, [0, groups, -1]), ones, zeros, eps)
  return op.add(g, op.mul(g, op.reshapeLike(g, n, x, 4, []), op.reshape(g, p.weight, [c, 1, 1])), op.reshape(g, p.bias, [c, 1, 1]))
}

/**
 * x [..., in] → [..., out] as MatMul with the transposed weight (+ bias). onnxruntime folds the Transpose into the
 * MatMul (FusedMatMul transB); on [B, HW, C] activations this ran ~4% faster than linearForward's reshape + Gemm
 * (full SD1.5 UNet at 512², same run).
 */
export function linearMatMulForward(g: Graph, p: Bound<Linear>, x: Value): Value {
  const y = op.matmul(g, x, op.transpose(g, p.weight, [1, 0]))
  return withLowRank(g, p.weight, x, p.bias ? op.add(g, y, p.bias) : y)
}
