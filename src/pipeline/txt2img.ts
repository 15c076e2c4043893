/*
 * txt2img as A1111 1.8 runs it (modules/processing.py process_images_inner @ c8a5322d): seeds seed + i over
 * batch size × batch count (−1 → random), one ImageRng per batch, the sampler over the UNet with batched CFG rows,
 * each image decoded on its own (decode_latent_batch) from latent / scale factor, A1111's uint8 conversion and
 * infotext. Writing files is the caller's (see output-paths.ts); this returns images as they are finished.
 */
import { basename, extname } from 'node:path'
import { InputError } from '../core/errors.ts'
import type { HostTensor } from '../core/host-tensor.ts'
import { collectGarbage } from '../core/gc.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import { INFOTEXT_VERSION, type GenerationInfo, type NetworkHash } from '../image/infotext.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import {
  batchSeeds, effectiveScheduler, ImageRng, resolveSampler, resolveScheduler, sample, SCHEDULERS,
  type RandnSource, type SamplerEntry,
} from '../sampling/index.ts'
import { buildConditioning, type PromptConditioning, type PromptEmbeddings } from './conditioning.ts'
import type { LoadedModel, SessionKind } from './load-model.ts'
import { unetModel } from './unet-model.ts'

export interface Txt2ImgRequest {
  readonly prompt: string
  readonly negativePrompt?: string
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
  readonly tokenizer: ClipTokenizer
  readonly embeddings?: PromptEmbeddings
  /** Infotext fields the adapters layer reports. */
  readonly loraHashes?: readonly NetworkHash[]
  readonly tiHashes?: readonly NetworkHash[]
}

export interface Txt2ImgProgress {
  readonly batch: number
  readonly batchCount: number
  /** 1-based step within the batch. */
  readonly step: number
  readonly steps: number
}

export interface Txt2ImgOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: (p: Txt2ImgProgress) => void
  /** Called for each finished image, in order (a batch's images after its decode). */
  readonly onImage?: (image: Txt2ImgImage) => Promise<void> | void
  /** AutoV2 hashes for the infotext (the caller computes them through tools/hash's cache). */
  readonly modelHash?: string
  readonly vaeHash?: string
  /**
   * Keep every session between phases (a server answering many requests). Default false: the text encoders are
   * released once encoded, the UNet before decoding and the VAE after, so peak memory is the weights plus ONE
   * network's activations (SD1.5 at 512²: 5.8 GB with all held, see BENCHMARKS.md); the cost is a rebuild
   * (under a second for SD1.5) per batch.
   */
  readonly keepSessions?: boolean
  /**
   * The model is not used again after this call (a CLI run): drop the text encoders' weights once the conditioning is
   * built and the UNet's before the last decode, so the peak is the sampling phase's, not weights + VAE activations.
   */
  readonly oneShot?: boolean
  /**
   * VAE decode tiling (models/vae tiled.ts): 'auto' (default) decodes whole up to 768² (exact, as A1111) and tiles
   * above; 'on' tiles with small tiles for the lowest memory (SD1.5 512²: ~0.7 GB less peak, small seam
   * differences); 'off' never tiles.
   */
  readonly vaeTiling?: VaeTilingMode
}

export interface Txt2ImgImage {
  /** 0-based index over the whole run (batch × batchSize + position). */
  readonly index: number
  readonly seed: number
  /** [1, 3, H, W] in about [-1, 1], before clamping. */
  readonly image: HostTensor
  /** The final latent [1, 4, H/8, W/8] (scaled, as the sampler returns it). */
  readonly latent: Float32Array
  readonly info: GenerationInfo
}

/** The request with defaults filled and checked. */
export interface ResolvedTxt2Img {
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
}

/** A1111 `get_fixed_seed`: −1 → random.randrange(4294967294). */
export const randomSeed = (): number => Math.floor(Math.random() * 4294967294)

function positiveInt(name: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new InputError(`${name} must be a whole number from 1 to ${max}, got ${v}`)
  return v
}

function size(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 8 || v % 8 !== 0) {
    const below = Math.max(8, Math.floor(v / 8) * 8)
    throw new InputError(`${name} must be a positive multiple of 8, got ${v}. Hint: the VAE works on 8×8 pixel blocks; try ${below} or ${below + 8}.`)
  }
  return v
}

/** Defaults and checks; `nativeSize` is the model's default width and height. */
export function resolveRequest(nativeSize: number, req: Omit<Txt2ImgRequest, 'tokenizer'>): ResolvedTxt2Img {
  const sampler = resolveSampler(req.sampler ?? 'Euler a')
  const scheduler = req.scheduler ?? 'Automatic'
  const schedId = resolveScheduler(scheduler)
  if (sampler.kind === 'ddim' && schedId !== 'automatic') {
    throw new InputError(`DDIM runs on its own timestep spacing; scheduler "${scheduler}" does not apply. Hint: use "Automatic".`)
  }
  const batchSize = positiveInt('batch size', req.batchSize ?? 1, 64)
  const batchCount = positiveInt('batch count', req.batchCount ?? 1, 10000)
  const seed = req.seed === undefined || req.seed === -1 ? randomSeed() : req.seed
  if (!Number.isSafeInteger(seed) || seed < 0) throw new InputError(`seed must be -1 or a whole number >= 0, got ${req.seed}`)
  const cfgScale = req.cfgScale ?? 7
  if (!Number.isFinite(cfgScale)) throw new InputError(`CFG scale must be a number, got ${req.cfgScale}`)
  return {
    steps: positiveInt('steps', req.steps ?? 20, 1000), cfgScale, sampler, scheduler,
    seeds: batchSeeds(seed, batchSize * batchCount), rng: req.rng ?? 'gpu',
    width: size('width', req.width ?? nativeSize), height: size('height', req.height ?? nativeSize),
    batchSize, batchCount, clipSkip: positiveInt('clip skip', req.clipSkip ?? 1, 12), ensd: req.ensd ?? 0,
  }
}

/** A1111 `total_steps`: second-order samplers make two denoiser calls per step, and the prompt schedule counts calls. */
const scheduleSteps = (r: ResolvedTxt2Img): number => (r.sampler.label === 'Heun' ? r.steps * 2 : r.steps)

const TEXT_ENCODER_PREFIXES = ['cond_stage_model.', 'conditioner.']
const UNET_WEIGHTS_PREFIX = 'model.diffusion_model.'

function dropWeights(model: LoadedModel, prefixes: readonly string[]): void {
  if (model.weights.drop(prefixes) > 0) collectGarbage()
}

export async function txt2img(model: LoadedModel, req: Txt2ImgRequest, opts: Txt2ImgOptions = {}): Promise<Txt2ImgImage[]> {
  const r = resolveRequest(model.nativeSize, req)
  const conditioning = await buildConditioning(model, {
    prompt: req.prompt, negativePrompt: req.negativePrompt ?? '', scheduleSteps: scheduleSteps(r), clipSkip: r.clipSkip,
    tokenizer: req.tokenizer, embeddings: req.embeddings, width: r.width, height: r.height,
  })
  const free = async (kind: SessionKind): Promise<void> => { if (!opts.keepSessions) await model.releaseSessions(kind) }
  await free('text')
  if (opts.oneShot) dropWeights(model, TEXT_ENCODER_PREFIXES)
  const images: Txt2ImgImage[] = []
  for (let batch = 0; batch < r.batchCount; batch++) {
    const seeds = r.seeds.slice(batch * r.batchSize, (batch + 1) * r.batchSize)
    const latents = await sampleBatch(model, { r, conditioning, seeds, batch }, opts)
    await free('unet')
    if (opts.oneShot && batch === r.batchCount - 1) dropWeights(model, [UNET_WEIGHTS_PREFIX])
    for (let i = 0; i < seeds.length; i++) {
      const image = await decodeOne(model, latents, i, [4, r.height / 8, r.width / 8], opts.vaeTiling)
      const index = batch * r.batchSize + i
      const done: Txt2ImgImage = { index, seed: seeds[i], image: image.image, latent: image.latent, info: infoFor(model, req, r, seeds[i], opts) }
      images.push(done)
      await opts.onImage?.(done)
    }
    await free('vae')
  }
  return images
}

interface BatchJob {
  readonly r: ResolvedTxt2Img
  readonly conditioning: PromptConditioning
  readonly seeds: readonly number[]
  readonly batch: number
}

async function sampleBatch(model: LoadedModel, job: BatchJob, opts: Txt2ImgOptions): Promise<Float32Array> {
  const { r, conditioning, seeds } = job
  const latentShape: [number, number, number] = [4, r.height / 8, r.width / 8]
  const unet = await model.unet()
  const result = await sample({
    sampler: r.sampler, scheduler: r.scheduler, steps: r.steps,
    model: unetModel({ unet, weights: model.weights, conditioning, latentShape }),
    parameterization: model.prediction.value,
    alphasCumprod: model.alphasCumprod,
    cfg: { scale: r.cfgScale, weights: seeds.map(() => conditioning.weights) },
    rng: new ImageRng({ shape: latentShape, seeds, source: r.rng, ensd: r.ensd }),
    callback: (s) => opts.onProgress?.({ batch: job.batch, batchCount: r.batchCount, step: s.i + 1, steps: s.steps }),
    signal: opts.signal,
  })
  return result.latent
}

/** Image i of the batch: latent / scale → VAE decoder (one image at a time, as A1111's decode_latent_batch). */
async function decodeOne(model: LoadedModel, latents: Float32Array, i: number, shape: readonly number[], tiling?: VaeTilingMode): Promise<{ image: HostTensor; latent: Float32Array }> {
  const per = shape[0] * shape[1] * shape[2]
  const latent = latents.slice(i * per, (i + 1) * per)
  const z = latent.map((v) => Math.fround(v / model.vaeScale))
  const vae = await model.vaeDecoder()
  return { image: await vae.decode({ shape: [1, ...shape], data: z }, { tiling }), latent }
}

function schedulerLabel(r: ResolvedTxt2Img): string | undefined {
  if (r.sampler.kind === 'ddim') return undefined
  return SCHEDULERS[effectiveScheduler(r.sampler, r.scheduler)].label
}

function infoFor(model: LoadedModel, req: Txt2ImgRequest, r: ResolvedTxt2Img, seed: number, opts: Txt2ImgOptions): GenerationInfo {
  const rngLabel = ({ gpu: 'GPU', cpu: 'CPU', nv: 'NV' } as const)[r.rng]
  return {
    prompt: req.prompt, negativePrompt: req.negativePrompt, steps: r.steps, sampler: r.sampler.label,
    scheduleType: schedulerLabel(r), cfgScale: r.cfgScale, seed, width: r.width, height: r.height,
    modelHash: opts.modelHash, model: basename(model.file, extname(model.file)),
    vaeHash: model.vaeFile ? opts.vaeHash : undefined, vae: model.vaeFile ? basename(model.vaeFile) : undefined,
    clipSkip: model.arch === 'sd1' ? r.clipSkip : undefined,
    ensd: r.sampler.kind === 'k-diffusion' && r.sampler.ancestral ? r.ensd : undefined,
    rng: rngLabel,
    extra: model.prediction.source === 'architecture' ? undefined : { Prediction: model.prediction.value },
    loraHashes: req.loraHashes, tiHashes: req.tiHashes, version: INFOTEXT_VERSION,
  }
}
