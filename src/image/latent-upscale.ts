/*
 * torch.nn.functional.interpolate(x, size=(h, w), mode, antialias) on [B, C, H, W] float32, the way A1111's hires fix
 * resizes latents (modules/shared_items / processing.py @ c8a5322d, `latent_upscale_modes`). Semantics of torch's
 * CPU kernels (aten/src/ATen/native/UpSample.h, UpSampleKernel.cpp), align_corners False:
 *  - bilinear: src = max((dst + 0.5)·in/out − 0.5, 0), the two neighbours (upper one clamped), width then height;
 *  - bicubic: src = (dst + 0.5)·in/out − 0.5 (not clamped), 4 taps with A = −0.75, indices clamped to the edge;
 *  - antialias (bilinear/bicubic): PIL-style separable filter (triangle, or cubic with a = −0.5) whose support grows
 *    by in/out when shrinking, weights normalised over the taps inside the image;
 *  - nearest: src = min(floor(dst·in/out), in − 1); nearest-exact: src = min(floor((dst + 0.5)·in/out), in − 1).
 */
import { InputError } from '../core/errors.ts'

export const LATENT_UPSCALERS = {
  'Latent': { mode: 'bilinear', antialias: false },
  'Latent (antialiased)': { mode: 'bilinear', antialias: true },
  'Latent (bicubic)': { mode: 'bicubic', antialias: false },
  'Latent (bicubic antialiased)': { mode: 'bicubic', antialias: true },
  'Latent (nearest)': { mode: 'nearest', antialias: false },
  'Latent (nearest-exact)': { mode: 'nearest-exact', antialias: false },
} as const
export type LatentUpscalerName = keyof typeof LATENT_UPSCALERS
type Mode = (typeof LATENT_UPSCALERS)[LatentUpscalerName]

export const isLatentUpscaler = (name: string): name is LatentUpscalerName => name in LATENT_UPSCALERS

const f32 = Math.fround

/** One axis as taps: output i reads in[idx[i][k]] · w[i][k]. */
interface Taps { readonly idx: number[][]; readonly w: number[][] }

function cubic(x: number, a: number): number {
  const ax = Math.abs(x)
  if (ax <= 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1
  if (ax < 2) return ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a
  return 0
}

function axisTaps(n: number, out: number, m: Mode): Taps {
  const scale = f32(n / out)
  const idx: number[][] = []
  const w: number[][] = []
  for (let d = 0; d < out; d++) {
    if (m.mode === 'nearest' || m.mode === 'nearest-exact') {
      const s = m.mode === 'nearest' ? Math.floor(f32(d * scale)) : Math.floor(f32(f32(d + 0.5) * scale))
      idx.push([Math.min(s, n - 1)]); w.push([1])
    } else if (m.antialias) {
      const support = (m.mode === 'bilinear' ? 1 : 2) * Math.max(scale, 1)
      const inv = 1 / Math.max(scale, 1)
      const center = scale * (d + 0.5)
      const lo = Math.max(Math.trunc(center - support + 0.5), 0)
      const hi = Math.min(Math.trunc(center + support + 0.5), n)
      const ks = Array.from({ length: hi - lo }, (_, j) => {
        const x = (j + lo - center + 0.5) * inv
        return m.mode === 'bilinear' ? Math.max(0, 1 - Math.abs(x)) : cubic(x, -0.5)
      })
      const total = ks.reduce((a, b) => a + b, 0)
      idx.push(ks.map((_, j) => lo + j)); w.push(ks.map((k) => f32(total !== 0 ? k / total : k)))
    } else if (m.mode === 'bilinear') {
      const s = Math.max(f32(f32(scale * f32(d + 0.5)) - 0.5), 0)
      const i0 = Math.floor(s)
      const l1 = f32(s - i0)
      idx.push([i0, Math.min(i0 + 1, n - 1)]); w.push([f32(1 - l1), l1])
    } else {
      const s = f32(f32(scale * f32(d + 0.5)) - 0.5)
      const i0 = Math.floor(s)
      const t = f32(s - i0)
      idx.push([-1, 0, 1, 2].map((k) => Math.min(Math.max(i0 + k, 0), n - 1)))
      w.push([cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)].map(f32))
    }
  }
  return { idx, w }
}

/** Resizes latents [B, C, H, W] → [B, C, outH, outW] with an A1111 latent upscaler. */
export function upscaleLatent(x: Float32Array, shape: readonly number[], outH: number, outW: number, name: LatentUpscalerName | string): Float32Array {
  if (!isLatentUpscaler(name)) throw new InputError(`unknown latent upscaler "${name}". Hint: one of ${Object.keys(LATENT_UPSCALERS).join(', ')}.`)
  const [b, c, h, w] = shape
  const m = LATENT_UPSCALERS[name]
  const tx = axisTaps(w, outW, m)
  const ty = axisTaps(h, outH, m)
  const out = new Float32Array(b * c * outH * outW)
  for (let p = 0; p < b * c; p++) {
    const src = x.subarray(p * h * w, (p + 1) * h * w)
    for (let oy = 0; oy < outH; oy++) {
      let acc = 0
      for (let ox = 0; ox < outW; ox++) {
        acc = 0
        ty.idx[oy].forEach((iy, ky) => {
          let row = 0
          tx.idx[ox].forEach((ix, kx) => { row = f32(row + f32(src[iy * w + ix] * tx.w[ox][kx])) })
          acc = f32(acc + f32(row * ty.w[oy][ky]))
        })
        out[(p * outH + oy) * outW + ox] = acc
      }
    }
  }
  return out
}
