/**
 * Test-only reference operations, written independently of the adapter code (plain loops in float64): they compute
 * layer outputs for the conformance suite's "merged weight == bypass form" checks.
 */
import type { HostTensor } from '../../core/host-tensor.ts'

/** mulberry32: a small deterministic PRNG; values in [-1, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1
  }
}

export function randomTensor(shape: readonly number[], next: () => number, scale = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(n)
  for (let i = 0; i < n; i++) data[i] = next() * scale
  return { shape: [...shape], data }
}

/** A feature map [C, H, W] (or a vector [C] with H = W = 1). */
export interface Activation { readonly c: number; readonly h: number; readonly w: number; readonly data: Float64Array }

export const activation = (c: number, h: number, w: number, data?: ArrayLike<number>): Activation =>
  ({ c, h, w, data: data ? Float64Array.from(data) : new Float64Array(c * h * w) })

/** conv2d, stride 1, zero padding (k − 1) / 2, weight [out, in, k, k] (a Linear is k = 1 on a 1×1 map). */
export function conv(x: Activation, weight: ArrayLike<number>, out: number, k = 1): Activation {
  const y = activation(out, x.h, x.w)
  const pad = (k - 1) / 2
  for (let o = 0; o < out; o++) for (let i = 0; i < x.c; i++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
    const wv = weight[((o * x.c + i) * k + ky) * k + kx]
    for (let yy = 0; yy < x.h; yy++) {
      const sy = yy + ky - pad
      if (sy < 0 || sy >= x.h) continue
      for (let xx = 0; xx < x.w; xx++) {
        const sx = xx + kx - pad
        if (sx < 0 || sx >= x.w) continue
        y.data[(o * x.h + yy) * x.w + xx] += wv * x.data[(i * x.h + sy) * x.w + sx]
      }
    }
  }
  return y
}

export function addBias(x: Activation, bias: ArrayLike<number>): Activation {
  const y = activation(x.c, x.h, x.w, x.data)
  for (let c = 0; c < x.c; c++) for (let p = 0; p < x.h * x.w; p++) y.data[c * x.h * x.w + p] += bias[c]
  return y
}

/** a + s·b. */
export function axpy(a: Activation, b: Activation, s: number): Activation {
  const y = activation(a.c, a.h, a.w, a.data)
  for (let i = 0; i < y.data.length; i++) y.data[i] += s * b.data[i]
  return y
}

/** Per-channel scale. */
export function scaleChannels(x: Activation, s: ArrayLike<number>): Activation {
  const y = activation(x.c, x.h, x.w, x.data)
  for (let c = 0; c < x.c; c++) for (let p = 0; p < x.h * x.w; p++) y.data[c * x.h * x.w + p] *= s[c]
  return y
}

/** LayerNorm over a vector (eps 1e-5) without affine; the caller applies γ and β. */
export function normalize(x: ArrayLike<number>): Float64Array {
  const n = x.length
  let mean = 0
  for (let i = 0; i < n; i++) mean += x[i] / n
  let v = 0
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2 / n
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) / Math.sqrt(v + 1e-5)
  return out
}

/** Plain matrix product of [m, k] and [k, n] in float64 (for building reference kernels). */
export function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) out[i * n + j] += a[i * k + p] * b[p * n + j]
  return out
}

export function maxAbsDiff64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}
