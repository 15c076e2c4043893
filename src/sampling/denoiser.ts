/*
 * k-diffusion @ ab527a9 external.py: CompVisDenoiser (DiscreteEpsDDPMDenoiser, eps prediction) and
 * CompVisVDenoiser (DiscreteVDDPMDenoiser, v prediction, SD 2.x 768-v) with sigma_data = 1:
 *   eps: c_in = 1/√(σ²+1), c_out = -σ, c_skip = 1          denoised = x + eps·c_out
 *   v:   c_in = 1/√(σ²+1), c_out = -σ/√(σ²+1), c_skip = 1/(σ²+1)   denoised = x·c_skip + v·c_out
 * The network sees x·c_in at the fractional timestep t = sigma_to_t(σ). Arithmetic is float32 like torch.
 */
import { fr } from './torch-f32.ts'

export type Parameterization = 'eps' | 'v'

/** What one row of a batched model call is conditioned on. */
export type BatchRow =
  | { readonly kind: 'cond'; readonly image: number; readonly part: number }
  | { readonly kind: 'uncond'; readonly image: number }

export interface ModelBatch {
  /** One entry per row of xIn, in order. */
  readonly rows: readonly BatchRow[]
  /** The noise level of this call (the same for every row). */
  readonly sigma: number
}

/**
 * The network call the pipeline supplies (the UNet with the conditioning of each row):
 * xIn [rows, C, H, W] already scaled, t the (fractional) timestep of every row → eps or v [rows, C, H, W].
 */
export type ModelFn = (xIn: Float32Array, t: number, batch: ModelBatch) => Promise<Float32Array>

/** k-diffusion's `model(x, sigma)`: the denoised estimate of x [B, C, H, W] at noise level sigma. */
export type Denoiser = (x: Float32Array, sigma: number) => Promise<Float32Array>

export interface Scalings {
  readonly cSkip: number
  readonly cOut: number
  readonly cIn: number
}

/**
 * A denoiser other than CompVis(V)Denoiser over the same network: its own sigma → UNet timestep map and, for
 * consistency models (LCM), boundary scalings applied to the x0 estimate: D = c_skip·x + c_out·x0.
 */
export interface DenoiserVariant {
  readonly timestep: (sigma: number) => number
  readonly outputScalings?: (sigma: number) => { readonly cSkip: number; readonly cOut: number }
}

/** D = c_skip·x + c_out·x0 in place over `x0` (rows of x). */
export function applyOutputScalings(x: Float32Array, x0: Float32Array, s: { readonly cSkip: number; readonly cOut: number }): Float32Array {
  for (let i = 0; i < x0.length; i++) x0[i] = s.cOut * x0[i] + s.cSkip * x[i]
  return x0
}

/** get_scalings of CompVisDenoiser / CompVisVDenoiser (sigma_data = 1), float32. */
export function compVisScalings(parameterization: Parameterization, sigma: number): Scalings {
  const s = fr(sigma)
  const s2p1 = fr(fr(s * s) + 1)
  const root = fr(Math.sqrt(s2p1))
  const cIn = fr(1 / root)
  if (parameterization === 'eps') return { cSkip: 1, cOut: -s, cIn }
  return { cSkip: fr(1 / s2p1), cOut: fr(-s / root), cIn }
}

/** x·c_in, the network's input. */
export function scaleInput(x: Float32Array, cIn: number): Float32Array {
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = fr(x[i] * cIn)
  return out
}

/** denoised = x·c_skip + out·c_out (eps: x + eps·c_out, as k-diffusion writes it), written into `out`. */
export function toDenoised(parameterization: Parameterization, x: Float32Array, out: Float32Array, s: Scalings): Float32Array {
  const { cSkip, cOut } = s
  if (parameterization === 'eps') for (let i = 0; i < x.length; i++) out[i] = fr(x[i] + fr(out[i] * cOut))
  else for (let i = 0; i < x.length; i++) out[i] = fr(fr(out[i] * cOut) + fr(x[i] * cSkip))
  return out
}
