/**
 * What txt2img and img2img bodies share, mapped to the Engine's GenerationBase: prompt and styles, seeds (A1111's
 * −1 = random for the seed and the variation seed alike), sampler and its parameters (the request's, else the
 * settings'), variation seeds, the refiner (a library checkpoint like the model), the weights option; and the
 * server's limits, checked with errors naming the A1111 field and the flag that raises the limit.
 */
import { randomInt } from 'node:crypto'
import { InputError } from '../core/errors.ts'
import type { GenerationBase, GenerationRequest } from '../engine/contract.ts'
import { MAX_INPUT_PIXELS } from '../image/read-image.ts'
import { resolveSampler, type SamplerParams } from '../sampling/index.ts'
import { LimitError } from './http-errors.ts'
import type { Options } from './options-store.ts'
import { applyStyles, type PromptStyle } from './styles.ts'
import type { Txt2ImgBody } from './txt2img-schema.ts'

export interface ServerLimits {
  /** width × height of one image (a hires pass's target size too). */
  readonly maxPixels: number
  /** width × height of an uploaded picture (img2img init image or mask), checked from its header before decoding. */
  readonly maxInputPixels: number
  readonly maxSteps: number
  readonly maxBatchSize: number
  readonly maxBatchCount: number
  /** Jobs waiting in the queue. */
  readonly maxQueue: number
  /** Request body bytes. */
  readonly bodyLimit: number
  /** Milliseconds a client has to send a whole request (headers and body): slow senders (slowloris) are cut off. */
  readonly requestTimeoutMs: number
  /** Open /sdloom/v1/events streams (each holds a connection and a listener for the server's lifetime). */
  readonly maxEventStreams: number
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxPixels: 2048 * 2048, maxInputPixels: MAX_INPUT_PIXELS, maxSteps: 150, maxBatchSize: 8, maxBatchCount: 100, maxQueue: 100,
  bodyLimit: 50 * 1024 * 1024, requestTimeoutMs: 60_000, maxEventStreams: 64,
}

/**
 * The request a job row keeps. img2img's pictures are kept apart, encoded as the client sent them (`pictures`): a
 * decoded 8192² picture would be 200 MB of row; the worker decodes them again (deterministically) when it runs.
 */
export type StoredRequest = Exclude<GenerationRequest, { mode: 'img2img' }> | StoredImg2Img
export type StoredImg2Img = Omit<Extract<GenerationRequest, { mode: 'img2img' }>, 'init' | 'inpaint'> & {
  readonly inpaint?: Omit<NonNullable<Extract<GenerationRequest, { mode: 'img2img' }>['inpaint']>, 'mask'>
}

/** What a generation job row holds: everything a worker needs to redo it after a restart. */
export interface GenerationJobPayload {
  readonly request: StoredRequest
  /** img2img: the init picture and mask as base64 of the encoded file (no data: prefix). */
  readonly pictures?: { readonly init: string; readonly mask?: string }
  /** Which face accepted it: A1111's blocking txt2img/img2img or sdloom's jobs API. */
  readonly face: 'a1111' | 'native'
  readonly saveImages: boolean
  /** Output folder relative to the data folder (A1111's outdir_txt2img_samples / outdir_img2img_samples). */
  readonly outdir: string
  readonly modelTitle: string
  readonly styles: readonly string[]
  /** A1111's variation seed as resolved (−1 → random), reported in `info` even when its strength is 0, as A1111 does. */
  readonly subseed?: number
  /** The request as A1111 echoes it back in `parameters`. */
  readonly parameters: Readonly<Record<string, unknown>>
}

export interface MapContext {
  readonly options: Options
  readonly limits: ServerLimits
  readonly styles: readonly PromptStyle[]
  /** The checkpoint's library title for a name; '' → the library's first checkpoint. Throws for an unknown name. */
  readonly checkpoint: (ref: string) => string
}

export const limitError = (what: string, value: number, limit: number, flag: string): LimitError =>
  new LimitError(`${what} ${value} is over the server's limit of ${limit} (${flag}). Hint: ask for less, or start the server with a higher ${flag}`)

export interface Dims { readonly width: number; readonly height: number; readonly steps: number; readonly batchSize: number; readonly batchCount: number }

export function checkLimits(r: Dims, limits: ServerLimits): void {
  if (r.width * r.height > limits.maxPixels) throw limitError(`width × height = ${r.width}×${r.height} =`, r.width * r.height, limits.maxPixels, '--max-pixels')
  if (r.steps > limits.maxSteps) throw limitError('steps', r.steps, limits.maxSteps, '--max-steps')
  if (r.batchSize > limits.maxBatchSize) throw limitError('batch_size', r.batchSize, limits.maxBatchSize, '--max-batch-size')
  if (r.batchCount > limits.maxBatchCount) throw limitError('n_iter', r.batchCount, limits.maxBatchCount, '--max-batch-count')
  for (const [k, v] of Object.entries(r)) if (v < 1) throw new InputError(`${k === 'batchCount' ? 'n_iter' : k === 'batchSize' ? 'batch_size' : k} must be at least 1, got ${v}`)
}

/** Scripts and the fields sdloom cannot honour yet are refused by name rather than silently ignored. */
function refuseUnsupported(b: Txt2ImgBody): void {
  if (b.script_name) throw new InputError(`Script '${String(b.script_name)}' not found`)
  const always = Object.keys((b.alwayson_scripts as Record<string, unknown> | null) ?? {})
  if (always.length > 0) throw new InputError(`always on script ${always[0]} not found`)
  if (b.firstpass_image) throw new InputError('firstpass_image: starting hires fix from a given first-pass picture is not supported by sdloom yet; leave it out')
}

export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** A1111's random seed: random.randrange(4294967294). */
const fixedSeed = (v: unknown): number => (typeof v === 'number' && v !== -1 ? v : randomInt(0, 4294967294))

const RNG: Record<string, GenerationBase['rng']> = { GPU: 'gpu', CPU: 'cpu', NV: 'nv' }

/** Absent from the request: A1111 reads the setting (`s_tmax` 0 = ∞); values at A1111's defaults are left out. */
function samplerParamsOf(b: Txt2ImgBody, o: Options, samplerName: string): SamplerParams | undefined {
  let etaDefault = 1
  let timestep = false
  try {
    const entry = resolveSampler(samplerName)
    etaDefault = entry.eta ?? 1
    timestep = entry.kind !== 'k-diffusion'
  } catch { /* an unknown sampler: validateRequest names it */ }
  const pick = (field: unknown, option: unknown, dflt: number): number | undefined => {
    const v = num(field) ?? num(option)
    return v === undefined || v === dflt ? undefined : v
  }
  const params: Record<string, number | undefined> = {
    eta: pick(b.eta, timestep ? o.eta_ddim : o.eta_ancestral, etaDefault),
    sChurn: pick(b.s_churn, o.s_churn, 0), sTmin: pick(b.s_tmin, o.s_tmin, 0), sTmax: pick(b.s_tmax, o.s_tmax, 0),
    sNoise: pick(b.s_noise, o.s_noise, 1), sMinUncond: pick(b.s_min_uncond, o.s_min_uncond, 0),
    sigmaMin: pick(undefined, o.sigma_min, 0), sigmaMax: pick(undefined, o.sigma_max, 0), rho: pick(undefined, o.rho, 0),
    skipEarlyCond: pick(undefined, o.skip_early_cond, 0),
  }
  const set = Object.entries(params).filter(([, v]) => v !== undefined)
  return set.length === 0 ? undefined : Object.fromEntries(set) as SamplerParams
}

/** A1111's refiner_checkpoint: none for null, '' and "None" (its UI's choice); otherwise a library checkpoint. */
function refinerOf(b: Txt2ImgBody, ctx: MapContext): Pick<GenerationBase, 'refiner' | 'refinerSwitchAt'> {
  const name = str(b.refiner_checkpoint)
  if (name === undefined || name === '' || name.toLowerCase() === 'none') return {}
  const at = num(b.refiner_switch_at)
  if (at !== undefined && !(at > 0 && at <= 1)) throw new InputError(`refiner_switch_at must be in (0, 1], got ${at}`)
  return { refiner: ctx.checkpoint(name), refinerSwitchAt: at ?? 0.8 }
}

/** subseed (−1 → random), subseed_strength, seed_resize_from_w/h (both > 0, else off, as A1111 tests). */
function variationOf(b: Txt2ImgBody): { fields: Pick<GenerationBase, 'subseed' | 'subseedStrength' | 'seedResizeFrom'>; subseed: number } {
  const subseed = fixedSeed(b.subseed)
  const strength = num(b.subseed_strength) ?? 0
  if (!(strength >= 0 && strength <= 1)) throw new InputError(`subseed_strength must be in [0, 1] (0 = off), got ${strength}`)
  const w = num(b.seed_resize_from_w) ?? -1
  const h = num(b.seed_resize_from_h) ?? -1
  if (w > 0 && h > 0 && (w % 8 !== 0 || h % 8 !== 0)) throw new InputError(`seed_resize_from_w/h must be multiples of 8, got ${w}x${h}`)
  return {
    subseed,
    fields: { ...(strength > 0 ? { subseed, subseedStrength: strength } : {}), ...(w > 0 && h > 0 ? { seedResizeFrom: { width: w, height: h } } : {}) },
  }
}

export interface BaseMapping {
  readonly base: GenerationBase
  readonly dims: Dims
  readonly subseed: number
  readonly modelTitle: string
  readonly styles: readonly string[]
  readonly parameters: Record<string, unknown>
}

/** The fields both modes share; `size` overrides the body's width/height (txt2img's firstphase_width/height). */
export function baseRequest(b: Txt2ImgBody, ctx: MapContext, size?: { width: number; height: number }): BaseMapping {
  refuseUnsupported(b)
  const o = ctx.options
  const dims: Dims = {
    width: size?.width ?? num(b.width) ?? 512, height: size?.height ?? num(b.height) ?? 512, steps: num(b.steps) ?? 50,
    batchSize: num(b.batch_size) ?? 1, batchCount: num(b.n_iter) ?? 1,
  }
  checkLimits(dims, ctx.limits)
  const samplerName = str(b.sampler_name) || str(b.sampler_index) || 'Euler'
  const seed = fixedSeed(b.seed)
  const variation = variationOf(b)
  const styles = b.styles ?? []
  const { prompt, negativePrompt } = applyStyles(b.prompt ?? '', b.negative_prompt ?? '', styles, ctx.styles)
  const modelTitle = ctx.checkpoint(o.sd_model_checkpoint)
  const vae = o.sd_vae === 'Automatic' || o.sd_vae === 'None' || o.sd_vae === '' ? undefined : o.sd_vae
  const previewEvery = o.live_previews_enable && o.show_progress_every_n_steps > 0 ? o.show_progress_every_n_steps : 0
  const samplerParams = samplerParamsOf(b, o, samplerName)
  const base: GenerationBase = {
    model: modelTitle, ...(vae ? { vae } : {}), prompt, negativePrompt, steps: dims.steps, cfgScale: num(b.cfg_scale) ?? 7,
    sampler: samplerName, ...(b.scheduler ? { scheduler: b.scheduler } : {}), seed, rng: RNG[o.randn_source] ?? 'gpu',
    width: dims.width, height: dims.height, batchSize: dims.batchSize, batchCount: dims.batchCount,
    clipSkip: Number(o.CLIP_stop_at_last_layers), ensd: Number(o.eta_noise_seed_delta), loraMode: 'auto', previewEvery,
    // A1111's "Full" and "Approx NN" previews are not offered: they fall back to the cheap projection.
    ...(o.show_progress_type === 'TAESD' ? { previewMethod: 'taesd' as const } : {}),
    ...aestheticScoresOf(o),
    ...(['fp32', 'int8', 'w8a8'].includes(o.sdloom_weights) ? { weights: o.sdloom_weights as 'fp32' | 'int8' | 'w8a8' } : {}),   // else auto
    ...(samplerParams ? { samplerParams } : {}), ...variation.fields, ...refinerOf(b, ctx),
  }
  const parameters = { ...b, seed, subseed: variation.subseed, sampler_name: samplerName }
  return { base, dims, subseed: variation.subseed, modelTitle, styles, parameters }
}

/** The SDXL refiner's aesthetic scores from A1111's settings, in the request only when not A1111's defaults (6 / 2.5). */
function aestheticScoresOf(o: Options): { aestheticScore?: number; negativeAestheticScore?: number } {
  const high = Number(o.sdxl_refiner_high_aesthetic_score)
  const low = Number(o.sdxl_refiner_low_aesthetic_score)
  return { ...(high !== 6 && Number.isFinite(high) ? { aestheticScore: high } : {}), ...(low !== 2.5 && Number.isFinite(low) ? { negativeAestheticScore: low } : {}) }
}

/** A1111: `opts.outdir_samples or opts.outdir_<mode>_samples`. */
export const outdirOf = (o: Options, mode: 'txt2img' | 'img2img'): string =>
  (o.outdir_samples || (mode === 'txt2img' ? o.outdir_txt2img_samples : o.outdir_img2img_samples) || `outputs/${mode}-images`)
