/*
 * Sinusoidal timestep embedding of the LDM/sgm UNet (`flip_sin_to_cos`: cos first).
 * Upstream: https://github.com/Stability-AI/generative-models/blob/45c443b3/sgm/modules/diffusionmodules/util.py
 *   freqs = exp(-ln(10000) · arange(half, float32) / half);  args = t[:, None] · freqs;  cat(cos(args), sin(args))
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'

/**
 * The frequencies as torch computes them in float32: every step rounds to float32 (a scalar operand is cast to
 * float32 first), so the table matches torch's to the last bit except where expf itself rounds differently.
 */
export function timestepFrequencies(dim: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2)
  const scale = Math.fround(-Math.log(maxPeriod))
  return Float32Array.from({ length: half }, (_, i) => Math.fround(Math.exp(Math.fround(Math.fround(scale * i) / half))))
}

/** t [B] (float timesteps, fractional allowed) → [B, dim]. */
export function timestepEmbedding(g: Graph, t: Value, dim: number): Value {
  if (dim % 2 !== 0) g.fail('timestep_embedding', `odd embedding width ${dim} is not supported (LDM pads it with a zero column)`)
  const freqs = timestepFrequencies(dim)
  const args = op.mul(g, op.unsqueeze(g, t, [1]), op.constF32(g, [...freqs], [1, freqs.length]))   // [B, half]
  return op.concat(g, [op.cos(g, args), op.sin(g, args)], 1)
}
