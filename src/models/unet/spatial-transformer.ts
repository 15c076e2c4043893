/*
 * SpatialTransformer and BasicTransformerBlock (self-attention, cross-attention over the text context, GEGLU FF).
 * Upstream: https://github.com/Stability-AI/generative-models/blob/45c443b3/sgm/modules/attention.py
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2d, conv2dForward, groupNormPreciseForward, layerNormForward, linear, linearMatMulForward, norm } from '../../nn/layers.ts'
import { NONE, type Bound } from '../../nn/module.ts'

/**
 * Attention kernel: plain MatMul + Softmax, or onnxruntime's fused `com.microsoft.MultiHeadAttention` (on CPU it
 * never holds the [B, H, N, M] scores in memory).
 */
export type AttentionKind = 'matmul' | 'mha'

const crossAttention = (dim: number, ctxDim: number) => ({
  to_q: linear(dim, dim, false),
  to_k: linear(ctxDim, dim, false),
  to_v: linear(ctxDim, dim, false),
  to_out: [linear(dim, dim)] as const,
})
type CrossAttention = ReturnType<typeof crossAttention>

const transformerBlock = (dim: number, ctxDim: number) => ({
  attn1: crossAttention(dim, dim),
  ff: { net: [{ proj: linear(dim, dim * 8) } /* GEGLU: 2 × 4·dim */, NONE /* Dropout */, linear(dim * 4, dim)] as const },
  attn2: crossAttention(dim, ctxDim),
  norm1: norm(dim),
  norm2: norm(dim),
  norm3: norm(dim),
})
type TransformerBlock = ReturnType<typeof transformerBlock>

export const spatialTransformer = (ch: number, ctxDim: number, depth: number, linearProj: boolean) => ({
  norm: norm(ch),
  proj_in: linearProj ? linear(ch, ch) : conv2d(ch, ch, 1),
  transformer_blocks: Array.from({ length: depth }, () => transformerBlock(ch, ctxDim)),
  proj_out: linearProj ? linear(ch, ch) : conv2d(ch, ch, 1),
})
export type SpatialTransformer = ReturnType<typeof spatialTransformer>

export interface TransformerOptions {
  readonly heads: number
  readonly linearProj: boolean
  readonly attention: AttentionKind
}

/** x [B, C, H, W], context [B, T, ctx] → [B, C, H, W]. */
export function spatialTransformerForward(g: Graph, p: Bound<SpatialTransformer>, x: Value, context: Value, o: TransformerOptions): Value {
  const c = x.shape[1] as number
  let h = groupNormPreciseForward(g, p.norm, x, 32, 1e-6)       // sgm Normalize(): GroupNorm eps 1e-6 here
  if (!o.linearProj) h = conv2dForward(g, p.proj_in, h)
  h = op.transpose(g, op.reshape(g, h, [0, c, -1]), [0, 2, 1])   // [B, HW, C]
  if (o.linearProj) h = linearMatMulForward(g, p.proj_in, h)
  p.transformer_blocks.forEach((b, i) => { h = g.scope(`transformer_blocks.${i}`, () => transformerBlockForward(g, b, h, context, o)) })
  if (o.linearProj) h = linearMatMulForward(g, p.proj_out, h)
  h = op.reshapeLike(g, op.transpose(g, h, [0, 2, 1]), x, 4, [])   // [B, C, H, W]
  if (!o.linearProj) h = conv2dForward(g, p.proj_out, h)
  return op.add(g, h, x)
}

function transformerBlockForward(g: Graph, p: Bound<TransformerBlock>, x: Value, context: Value, o: TransformerOptions): Value {
  let h = op.add(g, g.scope('attn1', () => attentionForward(g, p.attn1, layerNormForward(g, p.norm1, x), undefined, o)), x)
  h = op.add(g, g.scope('attn2', () => attentionForward(g, p.attn2, layerNormForward(g, p.norm2, h), context, o)), h)
  return op.add(g, g.scope('ff', () => gegluFeedForward(g, p.ff, layerNormForward(g, p.norm3, h))), h)
}

/** GEGLU: proj → [x, gate] halves → x · gelu(gate) (exact erf gelu) → net.2. */
function gegluFeedForward(g: Graph, p: Bound<TransformerBlock['ff']>, x: Value): Value {
  const proj = linearMatMulForward(g, p.net[0].proj, x)
  const inner = (p.net[0].proj.weight.shape[0] as number) / 2
  const gated = op.mul(g, op.slice(g, proj, -1, 0, inner), op.gelu(g, op.slice(g, proj, -1, inner, 2 * inner)))
  return linearMatMulForward(g, p.net[2], gated)
}

/** x [B, N, C], context [B, M, ctx] (self-attention when undefined) → [B, N, C]; softmax(q·kᵀ/√d)·v per head. */
function attentionForward(g: Graph, p: Bound<CrossAttention>, x: Value, context: Value | undefined, o: TransformerOptions): Value {
  const ctx = context ?? x
  const c = p.to_q.weight.shape[0] as number
  const d = c / o.heads
  const q = linearMatMulForward(g, p.to_q, x)
  const k = linearMatMulForward(g, p.to_k, ctx)
  const v = linearMatMulForward(g, p.to_v, ctx)
  const out = o.attention === 'mha'
    ? g.node({ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: [q, k, v], attrs: { num_heads: o.heads }, outputs: [{ dtype: q.dtype, shape: q.shape }] })[0]
    : matmulAttention(g, { q, k, v }, o.heads, d)
  return linearMatMulForward(g, p.to_out[0], out)
}

function matmulAttention(g: Graph, t: { q: Value; k: Value; v: Value }, heads: number, d: number): Value {
  const split = (x: Value, perm: number[]) => op.transpose(g, op.reshape(g, x, [0, 0, heads, d]), perm)
  const q = split(op.mul(g, t.q, op.scalarF32(g, 1 / Math.sqrt(d))), [0, 2, 1, 3])   // [B, H, N, d], pre-scaled
  const k = split(t.k, [0, 2, 3, 1])                                                  // [B, H, d, M]
  const v = split(t.v, [0, 2, 1, 3])                                                  // [B, H, M, d]
  const probs = op.softmax(g, op.matmul(g, q, k), -1)                                 // [B, H, N, M]
  return op.reshape(g, op.transpose(g, op.matmul(g, probs, v), [0, 2, 1, 3]), [0, 0, heads * d])
}
