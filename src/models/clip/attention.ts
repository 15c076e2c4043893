/*
 * Causal multi-head self-attention shared by both text towers (HF CLIPAttention and torch nn.MultiheadAttention with
 * open_clip's causal attn_mask compute the same thing: softmax(q kᵀ / √d + mask) v per head).
 * https://github.com/huggingface/transformers/blob/v4.33.0/src/transformers/models/clip/modeling_clip.py#L213
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'

/** torch.finfo(float32).min, what transformers fills the masked half with (exp underflows to exactly 0). */
const MASKED = -3.4028234663852886e38

/** [T, T]: 0 on and below the diagonal, MASKED above it (token t sees tokens 0..t). */
export function causalMask(g: Graph, t: number): Value {
  const m = new Array<number>(t * t).fill(0)
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = MASKED
  return op.constF32(g, m, [t, t])
}

/** q, k, v [B, T, C] (already projected) → attention output [B, T, C], before the output projection. */
export function causalSelfAttention(g: Graph, qkv: { q: Value; k: Value; v: Value }, heads: number, mask: Value): Value {
  const [, t, c] = qkv.q.shape as [unknown, number, number]
  const d = c / heads
  const split = (x: Value, perm: number[]): Value => op.transpose(g, op.reshape(g, x, [0, t, heads, d]), perm)
  const q = op.mul(g, split(qkv.q, [0, 2, 1, 3]), op.scalarF32(g, 1 / Math.sqrt(d)))   // [B, H, T, D]
  const kT = split(qkv.k, [0, 2, 3, 1])                                                 // [B, H, D, T]
  const v = split(qkv.v, [0, 2, 1, 3])                                                  // [B, H, T, D]
  const probs = op.softmax(g, op.add(g, op.matmul(g, q, kT), mask), -1)                 // [B, H, T, T]
  const out = op.transpose(g, op.matmul(g, probs, v), [0, 2, 1, 3])                     // [B, T, H, D]
  return op.reshape(g, out, [0, t, c])
}
