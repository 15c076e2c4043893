/*
 * The generation core every mode runs (A1111 processing.py process_images_inner @ c8a5322d): conditioning once, then
 * per batch an init latent (the mode's strategy: noise for txt2img, an encoded image + strength for img2img), the
 * sampler over the UNet with batched CFG rows, an optional second pass (hires), and each image decoded on its own.
 *
 * Memory policy by phase: unless `keepSessions`, the text encoders are released once encoded, the UNet before decoding
 * and the VAE after, so peak memory is the weights plus ONE network's activations; `oneShot` also drops weights a
 * later phase no longer needs.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import { collectGarbage } from '../core/gc.ts'
import type { GenerationInfo } from '../image/infotext.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import { ImageRng, sample, type Img2ImgStart } from '../sampling/index.ts'
import { buildConditioning, type ConditioningRequest, type PromptConditioning } from './conditioning.ts'
import { decodeOne } from './decode.ts'
import { generationInfo, type InfoHashes } from './generation-info.ts'
import type { LoadedModel, SessionKind } from './load-model.ts'
import { scheduleSteps, type GenerationParams, type ResolvedRequest } from './request.ts'
import { unetModel } from './unet-model.ts'

export interface BatchProgress {
  readonly batch: number
  readonly batchCount: number
  /** 1-based step within the batch. */
  readonly step: number
  readonly steps: number
  readonly sigma: number
  /** The sampler's x at the step's start and its denoised estimate, [B, 4, h, w] (read-only views: copy to keep). */
  readonly x: Float32Array
  readonly denoised: Float32Array
  /** The latent shape of one image, [4, h, w]. */
  readonly latentShape: readonly [number, number, number]
}

export interface RunOptions extends InfoHashes {
  readonly signal?: AbortSignal
  readonly onProgress?: (p: BatchProgress) => void
  /** Called for each finished image, in order (a batch's images after its decode). */
  readonly onImage?: (image: FinishedImage) => Promise<void> | void
  /** Called when a phase starts (the engine's progress events). */
  readonly onPhase?: (phase: 'encode' | 'sample' | 'decode', batch: number) => void
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

export interface FinishedImage {
  /** 0-based index over the whole run (batch × batchSize + position). */
  readonly index: number
  readonly seed: number
  /** [1, 3, H, W] in about [-1, 1], before clamping. */
  readonly image: HostTensor
  /** The final latent [1, 4, H/8, W/8] (scaled, as the sampler returns it). */
  readonly latent: Float32Array
  readonly info: GenerationInfo
}

/** One batch as a strategy sees it. */
export interface BatchContext {
  readonly r: ResolvedRequest
  readonly conditioning: PromptConditioning
  readonly seeds: readonly number[]
  readonly batch: number
  /** One image's latent [4, h, w]. */
  readonly latentShape: readonly [number, number, number]
}

/** Where sampling starts: undefined = pure noise (txt2img); else an encoded image and its denoising strength. */
export type InitLatent = (model: LoadedModel, ctx: BatchContext) => Promise<Img2ImgStart | undefined>

/** Latents of a batch at a size (a second pass may change it). */
export interface BatchLatents {
  readonly latent: Float32Array
  readonly latentShape: readonly [number, number, number]
}

/** A second sampling pass over the first pass's latents (hires fix); it returns the latents to decode. */
export type SecondPass = (model: LoadedModel, first: BatchLatents, ctx: BatchContext, opts: RunOptions) => Promise<BatchLatents>

export interface ModeSpec {
  readonly req: GenerationParams
  readonly r: ResolvedRequest
  readonly init: InitLatent
  readonly secondPass?: SecondPass
  /** Conditioning built earlier for this request (a caller's cache of repeated prompts); else built here. */
  readonly conditioning?: PromptConditioning
}

/** txt2img's init: the sampler draws the noise itself (sampling/run.ts: ImageRng.next() · σ_max). */
export const NOISE_INIT: InitLatent = async () => undefined

const TEXT_ENCODER_PREFIXES = ['cond_stage_model.', 'conditioner.']
const UNET_WEIGHTS_PREFIX = 'model.diffusion_model.'

function dropWeights(model: LoadedModel, prefixes: readonly string[]): void {
  if (model.weights.drop(prefixes) > 0) collectGarbage()
}

/** What buildConditioning is asked for a request (a cache of conditionings keys on it). */
export const conditioningRequest = (req: GenerationParams, r: ResolvedRequest): ConditioningRequest => ({
  prompt: req.prompt, negativePrompt: req.negativePrompt ?? '', scheduleSteps: scheduleSteps(r), clipSkip: r.clipSkip,
  tokenizer: req.tokenizer, embeddings: req.embeddings, width: r.width, height: r.height,
})

export async function runBatches(model: LoadedModel, spec: ModeSpec, opts: RunOptions = {}): Promise<FinishedImage[]> {
  const { req, r } = spec
  opts.onPhase?.('encode', 0)
  const conditioning = spec.conditioning ?? await buildConditioning(model, conditioningRequest(req, r))
  const free = async (kind: SessionKind): Promise<void> => { if (!opts.keepSessions) await model.releaseSessions(kind) }
  await free('text')
  if (opts.oneShot) dropWeights(model, TEXT_ENCODER_PREFIXES)
  const images: FinishedImage[] = []
  for (let batch = 0; batch < r.batchCount; batch++) {
    const seeds = r.seeds.slice(batch * r.batchSize, (batch + 1) * r.batchSize)
    const ctx: BatchContext = { r, conditioning, seeds, batch, latentShape: [4, r.height / 8, r.width / 8] }
    opts.onPhase?.('sample', batch)
    const first: BatchLatents = { latent: await sampleBatch(model, ctx, await spec.init(model, ctx), opts), latentShape: ctx.latentShape }
    const out = spec.secondPass ? await spec.secondPass(model, first, ctx, opts) : first
    await free('unet')
    if (opts.oneShot && batch === r.batchCount - 1) dropWeights(model, [UNET_WEIGHTS_PREFIX])
    opts.onPhase?.('decode', batch)
    for (let i = 0; i < seeds.length; i++) {
      const image = await decodeOne(model, out.latent, i, out.latentShape, opts.vaeTiling)
      const index = batch * r.batchSize + i
      const done: FinishedImage = { index, seed: seeds[i], image: image.image, latent: image.latent, info: generationInfo(model, req, r, seeds[i], opts) }
      images.push(done)
      await opts.onImage?.(done)
    }
    await free('vae')
  }
  return images
}

/** One sampler run over a batch (exported for second passes, which sample again at another size or strength). */
export async function sampleBatch(model: LoadedModel, ctx: BatchContext, start: Img2ImgStart | undefined, opts: RunOptions): Promise<Float32Array> {
  const { r, conditioning, seeds, latentShape } = ctx
  const unet = await model.unet()
  const result = await sample({
    sampler: r.sampler, scheduler: r.scheduler, steps: r.steps, ...r.samplerParams, family: model.arch,
    model: unetModel({ unet, weights: model.weights, conditioning, latentShape: [...latentShape] }),
    parameterization: model.prediction.value,
    alphasCumprod: model.alphasCumprod,
    cfg: { scale: r.cfgScale, weights: seeds.map(() => conditioning.weights) },
    rng: new ImageRng({ shape: [...latentShape], seeds, source: r.rng, ensd: r.ensd }),
    img2img: start,
    callback: (s) => opts.onProgress?.({
      batch: ctx.batch, batchCount: r.batchCount, step: s.i + 1, steps: s.steps, sigma: s.sigma, x: s.x, denoised: s.denoised, latentShape,
    }),
    signal: opts.signal,
  })
  return result.latent
}
