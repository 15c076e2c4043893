/*
 * Classifier-free guidance as A1111's CFGDenoiser (modules/sd_samplers_cfg_denoiser.py @ c8a5322d): ONE batched
 * model call over [cond rows of image 0, cond rows of image 1, …, uncond of image 0, uncond of image 1, …], each
 * row denoised on its own, then per image
 *     denoised = uncond + Σ_j (cond_j − uncond) · (w_j · scale)
 * where the j are the prompt's AND-parts with their weights (`a cat :1.2 AND a dog :0.8`); plain CFG is one part
 * of weight 1. The combination is affine in the model output, so the same function serves eps-space CFG (DDIM).
 */
import { InputError, SdError } from '../core/errors.ts'
import { applyOutputScalings, compVisScalings, scaleInput, toDenoised } from './denoiser.ts'
import type { BatchRow, Denoiser, DenoiserVariant, ModelFn, Parameterization } from './denoiser.ts'
import type { ModelSchedule } from './schedules.ts'
import { sigmaToT } from './schedules.ts'
import { fr } from './torch-f32.ts'

export interface CfgSpec {
  /** A1111 "CFG Scale". */
  readonly scale: number
  /** weights[image] = the weights of that image's AND-parts, in prompt order (plain CFG: [1]). */
  readonly weights: readonly (readonly number[])[]
  /** A1111's options that drop the uncond pass for some calls (NGMS, Skip Early CFG); absent: never. */
  readonly uncondSkip?: UncondSkip
}

export interface UncondSkip {
  /** s_min_uncond: skip on odd calls (A1111 counts from 0) whose sigma (timestep samplers: timestep) is below it. */
  readonly sMinUncond: number
  /** skip_early_cond: skip while call / totalCalls <= it. */
  readonly skipEarlyCond: number
  /** A1111's total_steps: steps, doubled for second-order samplers. */
  readonly totalCalls: number
}

/**
 * A1111 1.10 CFGDenoiser.forward's skip_uncond decision, one call after another (self.step counts the calls).
 * A skipped call runs only the cond rows and combines them at scale 1 (Σ w·cond; with one prompt part that is what
 * A1111's combine_denoised gives, the AND case there mixes in the last cond rows instead).
 */
export function uncondSkipper(skip: UncondSkip | undefined): (sigma: number) => boolean {
  let call = 0
  return (sigma) => {
    const step = call++
    if (!skip) return false
    if (skip.skipEarlyCond !== 0 && step / skip.totalCalls <= skip.skipEarlyCond) return true
    return step % 2 === 1 && skip.sMinUncond > 0 && sigma < skip.sMinUncond
  }
}

/** The CFG a skipped call combines with: its cond rows only, at scale 1. */
export const condOnly = (cfg: CfgSpec): CfgSpec => ({ weights: cfg.weights, scale: 1 })

/**
 * CFG 1 with each image's AND-weights summing to 1: uncond + Σ w·(c − u) = Σ w·c, so the uncond rows are not run
 * (one model row per prompt part: half the UNet work of few-step LCM/Turbo models at CFG 1).
 */
export const skipsUncond = (cfg: CfgSpec): boolean => cfg.scale === 1 && cfg.weights.every((w) => w.reduce((a, b) => a + b, 0) === 1)

/** The row layout of the batched call: all cond rows (image-major), then one uncond row per image (none at CFG 1). */
export function cfgRows(cfg: CfgSpec, opts: { readonly keepUncond?: boolean } = {}): BatchRow[] {
  if (cfg.weights.length === 0) throw new InputError('CFG needs at least one image (cfg.weights is empty).')
  const rows: BatchRow[] = []
  cfg.weights.forEach((parts, image) => {
    if (parts.length === 0) throw new InputError(`CFG: image ${image} has no prompt parts; give at least [1].`)
    parts.forEach((_, part) => rows.push({ kind: 'cond', image, part }))
  })
  if (opts.keepUncond || !skipsUncond(cfg)) cfg.weights.forEach((_, image) => rows.push({ kind: 'uncond', image }))
  return rows
}

/** Copies image rows of x [B, …] into the batch layout [rows, …]. */
export function gatherRows(x: Float32Array, rows: readonly BatchRow[], per: number): Float32Array {
  const out = new Float32Array(rows.length * per)
  rows.forEach((r, k) => out.set(x.subarray(r.image * per, (r.image + 1) * per), k * per))
  return out
}

/** A1111 combine_denoised over per-row outputs [rows, …] → [B, …] (without uncond rows: Σ w·cond, see skipsUncond). */
export function combineCfg(out: Float32Array, rows: readonly BatchRow[], cfg: CfgSpec, per: number): Float32Array {
  const b = cfg.weights.length
  const conds = rows.filter((r) => r.kind === 'cond').length
  const hasUncond = conds < rows.length
  const result = hasUncond ? Float32Array.from(out.subarray(conds * per)) : new Float32Array(b * per)
  rows.slice(0, conds).forEach((row, k) => {
    if (row.kind !== 'cond') return
    const factor = fr(cfg.weights[row.image][row.part] * cfg.scale)
    const cond = out.subarray(k * per, (k + 1) * per)
    const base = row.image * per
    for (let i = 0; i < per; i++) {
      const u = hasUncond ? out[conds * per + base + i] : 0
      result[base + i] = fr(result[base + i] + fr(fr(cond[i] - u) * factor))
    }
  })
  return result
}

const perImage = (x: Float32Array, images: number): number => {
  if (x.length % images !== 0) throw new InputError(`latent of ${x.length} values does not split into ${images} images.`)
  return x.length / images
}

export interface DenoiserOptions {
  readonly model: ModelFn
  readonly schedule: ModelSchedule
  readonly parameterization: Parameterization
  /** Another denoiser over the same network (LCM); default CompVis(V)Denoiser. */
  readonly variant?: DenoiserVariant
}

/** The rows' denoised estimates [rows, …] for x rows at sigma, through the variant's timestep and scalings. */
async function denoiseRows(opts: DenoiserOptions, xRows: Float32Array, sigma: number, rows: readonly BatchRow[]): Promise<Float32Array> {
  const { model, schedule, parameterization, variant } = opts
  const s = compVisScalings(parameterization, sigma)
  const t = variant ? variant.timestep(sigma) : sigmaToT(schedule, sigma)
  const out = await model(scaleInput(xRows, s.cIn), t, { rows, sigma })
  const x0 = toDenoised(parameterization, xRows, Float32Array.from(checkOut(out, xRows.length)), s)
  return variant?.outputScalings ? applyOutputScalings(xRows, x0, variant.outputScalings(sigma)) : x0
}

/** CompVis(V)Denoiser wrapped in A1111's CFGDenoiser: x [B, …] → guided denoised [B, …]. */
export function cfgDenoiser(opts: DenoiserOptions & { readonly cfg: CfgSpec }): Denoiser {
  const { cfg } = opts
  const rows = cfgRows(cfg)
  const skipped = cfgRows(condOnly(cfg))
  const skips = uncondSkipper(cfg.uncondSkip)
  return async (x, sigma) => {
    const per = perImage(x, cfg.weights.length)
    const [use, spec] = skips(sigma) ? [skipped, condOnly(cfg)] : [rows, cfg]
    const xRows = gatherRows(x, use, per)
    return combineCfg(await denoiseRows(opts, xRows, sigma, use), use, spec, per)
  }
}

/** A denoiser without guidance (every image one cond row): `images` images in x. */
export function plainDenoiser(opts: DenoiserOptions & { readonly images: number }): Denoiser {
  const rows: BatchRow[] = Array.from({ length: opts.images }, (_, image) => ({ kind: 'cond', image, part: 0 }))
  return async (x, sigma) => {
    perImage(x, opts.images)
    return denoiseRows(opts, x, sigma, rows)
  }
}

/** Guidance in the model's own output space at integer timesteps (diffusers-style DDIM): x_t rows are not scaled. */
export function cfgModelOutput(model: ModelFn, cfg: CfgSpec): (x: Float32Array, t: number, sigma: number) => Promise<Float32Array> {
  const rows = cfgRows(cfg)
  return async (x, t, sigma) => {
    const per = perImage(x, cfg.weights.length)
    const xRows = gatherRows(x, rows, per)
    return combineCfg(checkOut(await model(xRows, t, { rows, sigma }), xRows.length), rows, cfg, per)
  }
}

function checkOut(out: Float32Array, expected: number): Float32Array {
  if (out.length !== expected) {
    throw new SdError(`the model returned ${out.length} values for a batch of ${expected}. `
      + 'Hint: the model function must return one output row per input row, in the same order.')
  }
  return out
}
