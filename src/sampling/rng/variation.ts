/*
 * A1111's "Variation seed" and "Resize seed from" (modules/rng.py @ c8a5322d, ImageRNG.first and slerp), applied
 * to one image's initial noise [C, H, W].
 */
import { fr } from '../torch-f32.ts'

/**
 * A1111 `slerp(val, low, high)` on [C, H, W] noise: spherical interpolation with norms and dot products taken over
 * dim 1 (H) for every (c, w) column, as the original does; when the mean dot product exceeds 0.9995 it falls back
 * to `low·val + high·(1 − val)` (sic: A1111's weights are reversed in that branch).
 */
export function slerp(val: number, low: Float32Array, high: Float32Array, shape: readonly number[]): Float32Array {
  const [c, h, w] = shape
  const cols = c * w
  const dots = new Float64Array(cols)
  const at = (ci: number, y: number, x: number) => (ci * h + y) * w + x
  for (let ci = 0; ci < c; ci++) {
    for (let x = 0; x < w; x++) {
      let nl = 0
      let nh = 0
      for (let y = 0; y < h; y++) { nl += low[at(ci, y, x)] ** 2; nh += high[at(ci, y, x)] ** 2 }
      let dot = 0
      for (let y = 0; y < h; y++) dot += fr(low[at(ci, y, x)] / Math.sqrt(nl)) * fr(high[at(ci, y, x)] / Math.sqrt(nh))
      dots[ci * w + x] = fr(dot)
    }
  }
  const out = new Float32Array(low.length)
  if (dots.reduce((a, b) => a + b, 0) / cols > 0.9995) {
    for (let i = 0; i < out.length; i++) out[i] = fr(fr(low[i] * val) + fr(high[i] * (1 - val)))
    return out
  }
  for (let ci = 0; ci < c; ci++) {
    for (let x = 0; x < w; x++) {
      const omega = Math.acos(dots[ci * w + x])
      const so = Math.sin(omega)
      const a = fr(Math.sin((1 - val) * omega) / so)
      const b = fr(Math.sin(val * omega) / so)
      for (let y = 0; y < h; y++) out[at(ci, y, x)] = fr(fr(a * low[at(ci, y, x)]) + fr(b * high[at(ci, y, x)]))
    }
  }
  return out
}

/**
 * "Resize seed from": the noise drawn at a smaller/larger latent size `from` is pasted centred into `full`
 * (noise drawn at the target size with the same seed), cropping whichever is larger.
 */
export function pasteCentred(full: Float32Array, shape: readonly number[], from: Float32Array, fromShape: readonly number[]): Float32Array {
  const [c, h, w] = shape
  const [, fh, fw] = fromShape
  const dx0 = Math.floor((w - fw) / 2)
  const dy0 = Math.floor((h - fh) / 2)
  const cw = dx0 >= 0 ? fw : fw + 2 * dx0
  const ch = dy0 >= 0 ? fh : fh + 2 * dy0
  const tx = Math.max(dx0, 0)
  const ty = Math.max(dy0, 0)
  const sx = Math.max(-dx0, 0)
  const sy = Math.max(-dy0, 0)
  const out = Float32Array.from(full)
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) out[(ci * h + ty + y) * w + tx + x] = from[(ci * fh + sy + y) * fw + sx + x]
    }
  }
  return out
}
