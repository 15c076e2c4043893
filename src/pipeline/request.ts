/*
 * What every generation mode shares of a request: the sampling parameters with A1111's defaults, checked in one place
 * before any network runs (A1111 processing.py StableDiffusionProcessing @ c8a5322d: seeds seed + i over batch size ×
 * batch count, −1 → random). A mode's own request (img2img's image and strength, hires' second pass) extends
 * `GenerationParams`; its checks sit in its own file.
 */
import { InputError } from '../core/errors.ts'
import type { NetworkHash } from '../image/infotext.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import { SCHEDULERS, batchSeeds, resolveSamplerAndSchedule, type RandnSource, type SamplerEntry, type SamplerParams } from '../sampling/index.ts'
import type { PromptEmbeddings } from './conditioning.ts'

/** The sampling parameters of one request (the text-to-latent part every mode has). */
export interface SamplingParams {
  /** Default 20. */
  readonly steps?: number
  /** Default 7. */
  readonly cfgScale?: number
  /** A1111 or ComfyUI name; default "Euler a". */
  readonly sampler?: string
  /** "Schedule type"; default "Automatic" (the sampler's own). */
  readonly scheduler?: string
  /** −1 (default): a random seed, as A1111 picks it. */
  readonly seed?: number
  /** Default 'gpu' (A1111's default; the NV Philox stream). */
  readonly rng?: RandnSource
  /** Default: the model's native size. Multiples of 8. */
  readonly width?: number
  readonly height?: number
  readonly batchSize?: number
  readonly batchCount?: number
  /** SD1 only (A1111 ignores it for SD2/SDXL); default 1. */
  readonly clipSkip?: number
  /** A1111 "Eta noise seed delta". */
  readonly ensd?: number
  /** A1111 "Variation seed" (−1: random); used when subseedStrength > 0. */
  readonly subseed?: number
  /** A1111 "Variation strength" in [0, 1]; default 0 (off). */
  readonly subseedStrength?: number
  /** A1111 "Resize seed from" (width × height in pixels): the noise is drawn at that size and centred. */
  readonly seedResizeFrom?: { readonly width: number; readonly height: number }
  /** A1111's sampler parameters (eta, s_noise, churn, sigma min/max, rho); absent = A1111's defaults. */
  readonly samplerParams?: SamplerParams
}

/** A generation as the pipeline runs it: prompts, sampling parameters and the resources conditioning needs. */
export interface GenerationParams extends SamplingParams {
  readonly prompt: string
  readonly negativePrompt?: string
  readonly tokenizer: ClipTokenizer
  readonly embeddings?: PromptEmbeddings
  /** Infotext fields the adapters layer reports. */
  readonly loraHashes?: readonly NetworkHash[]
  readonly tiHashes?: readonly NetworkHash[]
  /** An SDXL refiner's aesthetic scores (A1111 sdxl_refiner_high/low_aesthetic_score; defaults 6 / 2.5). */
  readonly aestheticScore?: number
  readonly negativeAestheticScore?: number
}

/** The request with defaults filled and checked. */
export interface ResolvedRequest {
  readonly steps: number
  readonly cfgScale: number
  readonly sampler: SamplerEntry
  readonly scheduler: string
  readonly seeds: readonly number[]
  readonly rng: RandnSource
  readonly width: number
  readonly height: number
  readonly batchSize: number
  readonly batchCount: number
  readonly clipSkip: number
  readonly ensd: number
  /** Variation seeds per image (seed stays the same for every image then, as A1111 does). */
  readonly variation?: { readonly subseeds: readonly number[]; readonly strength: number }
  readonly seedResizeFrom?: { readonly width: number; readonly height: number }
  readonly samplerParams?: SamplerParams
}

/** A1111 `get_fixed_seed`: −1 → random.randrange(4294967294). */
export const randomSeed = (): number => Math.floor(Math.random() * 4294967294)

/** One field's problem, named by its request field (`path`) so a server can point at it. */
const fieldError = (field: keyof SamplingParams, code: string, message: string): InputError =>
  new InputError([{ code, path: [field], message }])

function positiveInt(field: keyof SamplingParams, name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw fieldError(field, 'range', `${name} must be a whole number from 1 to ${max}, got ${v}`)
  return v
}

function size(field: 'width' | 'height', v: number): number {
  if (!Number.isInteger(v) || v < 8 || v % 8 !== 0) {
    const below = Math.max(8, Math.floor(v / 8) * 8)
    throw fieldError(field, 'multiple-of-8', `${field} must be a positive multiple of 8, got ${v}. Hint: the VAE works on 8×8 pixel blocks; try ${below} or ${below + 8}.`)
  }
  return v
}

/** Defaults and checks; `nativeSize` is the model's default width and height. */
export function resolveRequest(nativeSize: number, req: SamplingParams): ResolvedRequest {
  const { entry: sampler, scheduler: schedId } = resolveSamplerAndSchedule(req.sampler ?? 'Euler a', req.scheduler)
  const scheduler = SCHEDULERS[schedId].label
  const batchSize = positiveInt('batchSize', 'batch size', req.batchSize ?? 1, 64)
  const batchCount = positiveInt('batchCount', 'batch count', req.batchCount ?? 1, 10000)
  const seed = req.seed === undefined || req.seed === -1 ? randomSeed() : req.seed
  if (!Number.isSafeInteger(seed) || seed < 0) throw fieldError('seed', 'range', `seed must be -1 or a whole number >= 0, got ${req.seed}`)
  const variation = resolveVariation(req, batchSize * batchCount)
  const cfgScale = req.cfgScale ?? 7
  if (!Number.isFinite(cfgScale)) throw fieldError('cfgScale', 'type', `CFG scale must be a number, got ${req.cfgScale}`)
  return {
    steps: positiveInt('steps', 'steps', req.steps ?? 20, 1000), cfgScale, sampler, scheduler,
    seeds: variation ? Array<number>(batchSize * batchCount).fill(seed) : batchSeeds(seed, batchSize * batchCount), rng: req.rng ?? 'gpu',
    width: size('width', req.width ?? nativeSize), height: size('height', req.height ?? nativeSize),
    batchSize, batchCount, clipSkip: positiveInt('clipSkip', 'clip skip', req.clipSkip ?? 1, 12), ensd: req.ensd ?? 0,
    samplerParams: req.samplerParams, ...(variation ? { variation } : {}), ...resolveSeedResize(req),
  }
}

/** A1111: with a variation strength every image keeps the seed and image i gets subseed + i (−1: random). */
function resolveVariation(req: SamplingParams, images: number): ResolvedRequest['variation'] {
  const strength = req.subseedStrength ?? 0
  if (!(strength >= 0 && strength <= 1)) throw new InputError(`variation strength must be in [0, 1], got ${req.subseedStrength}`)
  if (strength === 0) return undefined
  const subseed = req.subseed === undefined || req.subseed === -1 ? randomSeed() : req.subseed
  if (!Number.isSafeInteger(subseed) || subseed < 0) throw new InputError(`variation seed must be -1 or a whole number >= 0, got ${req.subseed}`)
  return { subseeds: batchSeeds(subseed, images), strength }
}

function resolveSeedResize(req: SamplingParams): { seedResizeFrom?: { width: number; height: number } } {
  const from = req.seedResizeFrom
  if (!from || from.width <= 0 || from.height <= 0) return {}
  if (!Number.isInteger(from.width) || !Number.isInteger(from.height) || from.width % 8 !== 0 || from.height % 8 !== 0) {
    throw new InputError(`seed resize from ${from.width}x${from.height} must be whole multiples of 8 (a latent size).`)
  }
  return { seedResizeFrom: { width: from.width, height: from.height } }
}

/** A1111 `total_steps`: second-order samplers make two denoiser calls per step, and the prompt schedule counts calls. */
export const scheduleSteps = (r: ResolvedRequest): number => r.steps * r.sampler.modelCallsPerStep
