/**
 * A1111 emphasis modes, applied to the text encoder's output of one chunk (modules/sd_emphasis.py, webui 1.8):
 * - 'Original': z *= multipliers[:, None]; z *= mean(z_before) / mean(z_after) (means over the whole chunk);
 * - 'No norm': z *= multipliers[:, None] only;
 * - 'Ignore': weights are parsed but not applied;
 * - 'None': brackets are not parsed at all (prompt/chunker.ts tokenizeLine); z is unchanged.
 * Arithmetic is float32 as in torch: multipliers are float32, every product and the two means are rounded to float32
 * (the sums are accumulated in float64, so a mean may differ from torch's float32 cascade in the last bit).
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/sd_emphasis.py
 * It lives here, below prompt/, so that models/clip's encodeChunks and prompt/'s encodeTexts share one implementation.
 */
import { ShapeMismatchError } from '../../core/errors.ts'

export type EmphasisMode = 'Original' | 'No norm' | 'Ignore' | 'None'

const f32 = Math.fround

function mean32(z: Float32Array): number {
  let sum = 0
  for (let k = 0; k < z.length; k++) sum += z[k]
  return f32(sum / z.length)
}

/**
 * Returns the emphasised copy of `z` ([tokens, dim], row-major; tokens = multipliers.length, usually 77).
 * @param what names the tensor in errors (e.g. 'chunk 2 of "a cat"').
 */
export function applyEmphasis(z: Float32Array, multipliers: readonly number[], mode: EmphasisMode,
  what = 'text-encoder output'): Float32Array {
  const tokens = multipliers.length
  if (tokens === 0 || z.length % tokens !== 0) {
    throw new ShapeMismatchError(what, 'z', [tokens, -1], [z.length],
      'z must hold one row of encoder output per multiplier ([77, dim] for one chunk).')
  }
  if (mode === 'Ignore' || mode === 'None') return Float32Array.from(z)
  const dim = z.length / tokens
  const out = new Float32Array(z.length)
  for (let t = 0; t < tokens; t++) {
    const m = f32(multipliers[t])
    for (let d = 0; d < dim; d++) out[t * dim + d] = z[t * dim + d] * m   // Float32Array store rounds to float32
  }
  if (mode === 'No norm') return out
  const ratio = f32(mean32(z) / mean32(out))
  for (let k = 0; k < out.length; k++) out[k] = out[k] * ratio
  return out
}
