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
import type { RgbImage } from '../image/png.ts'
import type { VaeTilingMode } from '../models/vae/index.ts'
import { SDXL_REFINER_AESTHETIC } from '../models/clip/index.ts'
import { ImageRng, sample, type Img2ImgStart } from '../sampling/index.ts'
import { buildConditioning, type ConditioningRequest, type PromptConditioning, type PromptEmbeddings } from './conditioning.ts'
import { decodeOne, type LatentDecoder } from './decode.ts'
import { generationInfo, type InfoHashes } from './generation-info.ts'
import type { LoadedModel, SessionKind } from './load-model.ts'
import { scheduleSteps, type GenerationParams, type ResolvedRequest } from './request.ts'
import { unetModel } from './unet-model.ts'
import { imageToUint8 } from '../image/to-uint8.ts'
import { INPAINT_CHANNELS } from './load-model.ts'
import { txt2imgConditioning, type ImageConditioning } from './image-conditioning.ts'
import { variationFor } from './variation.ts'
import { switchingModel } from './refiner.ts'
import { basename, extname } from 'node:path'

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
  readonly onPhase?: (phase: 'encode' | 'sample' | 'decode', batch: number) => Promise<void> | void
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
  /** Decodes the final latents instead of the VAE (`--decoder taesd`); the VAE is then never built. */
  readonly decoder?: LatentDecoder
  /** A1111's refiner: another checkpoint takes over at a fraction of the steps, in any mode (pipeline/refiner.ts). */
  readonly refiner?: RefinerOptions
  /** A1111's hires checkpoint: another checkpoint of the same family runs a second pass (pipeline/hires.ts). */
  readonly hiresModel?: SecondModel
}

/** Another checkpoint a run switches to (hires checkpoint, refiner), with its own embeddings. */
export interface SecondModel {
  readonly model: LoadedModel
  /** Its textual-inversion embeddings (looked up for its own text encoders); absent: the first model's. */
  readonly embeddings?: PromptEmbeddings
}

/** A conditioning built by a second model's text encoders, with its own embeddings. */
const conditioningOn = (second: SecondModel, request: ConditioningRequest): Promise<PromptConditioning> =>
  buildConditioning(second.model, second.embeddings ? { ...request, embeddings: second.embeddings } : request)

export interface FinishedImage {
  /** 0-based index over the whole run (batch × batchSize + position). */
  readonly index: number
  readonly seed: number
  /** [1, 3, H, W] in about [-1, 1], before clamping. */
  readonly image: HostTensor
  /** The final latent [1, 4, H/8, W/8] (scaled, as the sampler returns it). */
  readonly latent: Float32Array
  readonly info: GenerationInfo
  /** The final 8-bit picture when the mode composites one (inpainting's overlay); else it is imageToUint8(image). */
  readonly pixels?: RgbImage
}

/** One batch as a strategy sees it. */
export interface BatchContext {
  readonly r: ResolvedRequest
  readonly conditioning: PromptConditioning
  readonly seeds: readonly number[]
  readonly batch: number
  /** The second pass's own conditioning (hires fix: A1111's hr_c / hr_uc), when the mode asked for one. */
  readonly secondConditioning?: PromptConditioning
  /** The refiner, on the pass it applies to (A1111 hires_fix_refiner_pass "second pass": hires' second pass only). */
  readonly refiner?: BatchRefiner
  /** One image's latent [4, h, w]. */
  readonly latentShape: readonly [number, number, number]
}

/** Where a batch's sampling starts. */
export interface BatchStart {
  /** Absent: pure noise (txt2img); else an encoded image and its denoising strength (and inpainting's mask). */
  readonly img2img?: Img2ImgStart
  /** Inpainting UNets: per-image c_concat (absent: txt2img's, made by sampleBatch). */
  readonly imageConditioning?: ImageConditioning
}

export type InitLatent = (model: LoadedModel, ctx: BatchContext, opts: RunOptions) => Promise<BatchStart>

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
  /** Infotext fields the mode adds (Denoising strength, Mask blur, Hires …). */
  readonly info?: Partial<GenerationInfo>
  /** The mode's final picture from the decoded one (inpainting: the overlay composite). */
  readonly composite?: (decoded: RgbImage, index: number) => RgbImage
  /** Conditioning built earlier for this request (a caller's cache of repeated prompts); else built here. */
  readonly conditioning?: PromptConditioning
  /** A second pass's conditioning, built with the first (before the text encoders are released). */
  readonly secondConditioning?: ConditioningRequest
}

export interface RefinerOptions extends SecondModel {
  /** refiner_switch_at in (0, 1]. */
  readonly switchAt: number
  /** The refiner's AutoV2 hash for the infotext ("Refiner: name [hash]"). */
  readonly hash?: string
}

/** The refiner as one sampling run sees it (the pass it applies to carries it). */
export interface BatchRefiner {
  readonly options: RefinerOptions
  readonly conditioning: PromptConditioning
  /** Set when the switch happened in this batch (the infotext names the refiner only then). */
  switched: boolean
}

/** txt2img's init: the sampler draws the noise itself (sampling/run.ts: ImageRng.next() · σ_max). */
export const NOISE_INIT: InitLatent = async () => ({})

const TEXT_ENCODER_PREFIXES = ['cond_stage_model.', 'conditioner.']
const UNET_WEIGHTS_PREFIX = 'model.diffusion_model.'

function dropWeights(model: LoadedModel, prefixes: readonly string[]): void {
  if (model.weights.drop(prefixes) > 0) collectGarbage()
}

/** What buildConditioning is asked for a request (a cache of conditionings keys on it). */
export const conditioningRequest = (req: GenerationParams, r: ResolvedRequest): ConditioningRequest => ({
  prompt: req.prompt, negativePrompt: req.negativePrompt ?? '', scheduleSteps: scheduleSteps(r), clipSkip: r.clipSkip,
  tokenizer: req.tokenizer, embeddings: req.embeddings, width: r.width, height: r.height,
  ...(req.aestheticScore === undefined && req.negativeAestheticScore === undefined ? {} : {
    aestheticScores: { positive: req.aestheticScore ?? SDXL_REFINER_AESTHETIC.positive, negative: req.negativeAestheticScore ?? SDXL_REFINER_AESTHETIC.negative },
  }),
})

export async function runBatches(model: LoadedModel, spec: ModeSpec, opts: RunOptions = {}): Promise<FinishedImage[]> {
  const { req, r } = spec
  await opts.onPhase?.('encode', 0)
  const conditioning = spec.conditioning ?? await buildConditioning(model, conditioningRequest(req, r))
  // the second pass's model: the hires checkpoint when there is one (its text encoders build the second conditioning)
  const hires = spec.secondPass ? opts.hiresModel : undefined
  const secondModel = hires?.model ?? model
  const secondConditioning = spec.secondConditioning ? await conditioningOn(hires ?? { model }, spec.secondConditioning) : undefined
  if (hires) await hires.model.releaseSessions('text')
  const refinerConditioning = await refinerConditioningFor(model, spec, opts.refiner)
  const free = async (kind: SessionKind): Promise<void> => { if (!opts.keepSessions) await model.releaseSessions(kind) }
  await free('text')
  if (opts.oneShot) dropWeights(model, TEXT_ENCODER_PREFIXES)
  const images: FinishedImage[] = []
  for (let batch = 0; batch < r.batchCount; batch++) {
    const seeds = r.seeds.slice(batch * r.batchSize, (batch + 1) * r.batchSize)
    const refiner = opts.refiner && refinerConditioning ? { options: opts.refiner, conditioning: refinerConditioning, switched: false } : undefined
    const ctx: BatchContext = { r, conditioning, seeds, batch, latentShape: [4, r.height / 8, r.width / 8], ...(secondConditioning ? { secondConditioning } : {}) }
    await opts.onPhase?.('sample', batch)
    const firstCtx = refiner && !spec.secondPass ? { ...ctx, refiner } : ctx
    const first: BatchLatents = { latent: await sampleBatch(model, firstCtx, await spec.init(model, ctx, opts), opts), latentShape: ctx.latentShape }
    const out = spec.secondPass ? await spec.secondPass(model, first, refiner ? { ...ctx, refiner } : ctx, opts) : first
    if (refiner?.switched && !opts.keepSessions) await refiner.options.model.releaseSessions('unet')
    await free('unet')
    if (opts.oneShot && batch === r.batchCount - 1) dropWeights(model, [UNET_WEIGHTS_PREFIX])
    await opts.onPhase?.('decode', batch)
    for (let i = 0; i < seeds.length; i++) {
      const image = await decodeOne(secondModel, out.latent, i, out.latentShape, { tiling: opts.vaeTiling, decoder: opts.decoder })
      const index = batch * r.batchSize + i
      const base = generationInfo(model, req, r, index, opts)
      const info = { ...base, ...spec.info, extra: { ...base.extra, ...spec.info?.extra, ...(refiner?.switched ? refinerInfo(refiner.options) : {}) } }
      const pixels = spec.composite?.(imageToUint8(image.image), index)
      const done: FinishedImage = { index, seed: seeds[i], image: image.image, latent: image.latent, info, ...(pixels ? { pixels } : {}) }
      images.push(done)
      await opts.onImage?.(done)
    }
    await free('vae')
  }
  return images
}

/**
 * The refiner's conditioning (A1111 setup_conds on the refiner), built with the base's while the text encoders are
 * held; undefined when there is no refiner or it is the base checkpoint itself (A1111 then never switches).
 */
async function refinerConditioningFor(model: LoadedModel, spec: ModeSpec, ref: RefinerOptions | undefined): Promise<PromptConditioning | undefined> {
  if (!ref || ref.model.file === model.file) return undefined
  const base = spec.secondPass && spec.secondConditioning ? spec.secondConditioning : conditioningRequest(spec.req, spec.r)
  const conditioning = await conditioningOn(ref, base)
  await ref.model.releaseSessions('text')
  return conditioning
}

/** "Refiner: name [hash]" (checkpoint short_title) and "Refiner switch at". */
const refinerInfo = (o: RefinerOptions): Record<string, string | number> => ({
  'Refiner': `${basename(o.model.file, extname(o.model.file))}${o.hash ? ` [${o.hash}]` : ''}`, 'Refiner switch at': o.switchAt,
})

/** One sampler run over a batch (exported for second passes, which sample again at another size or strength). */
export async function sampleBatch(model: LoadedModel, ctx: BatchContext, start: BatchStart, opts: RunOptions): Promise<Float32Array> {
  const { r, conditioning, seeds, latentShape } = ctx
  const imageConditioning = model.unetConfig.inChannels === INPAINT_CHANNELS
    ? start.imageConditioning ?? await txt2imgConditioning(model, seeds.length, latentShape, opts.vaeTiling) : undefined
  const unet = await model.unet()
  const base = unetModel({ unet, weights: model.weights, conditioning, latentShape: [...latentShape], imageConditioning })
  const refiner = ctx.refiner
  const result = await sample({
    sampler: r.sampler, scheduler: r.scheduler, steps: r.steps, ...r.samplerParams, family: model.arch,
    model: refiner ? switchingModel(base, {
      switchAt: refiner.options.switchAt, alphasCumprod: model.alphasCumprod,
      refiner: async (firstStep) => {
        refiner.switched = true
        const ref = refiner.options.model
        return unetModel({ unet: await ref.unet(), weights: ref.weights, conditioning: refiner.conditioning, latentShape: [...latentShape], imageConditioning, firstStep })
      },
    }) : base,
    parameterization: model.prediction.value,
    alphasCumprod: model.alphasCumprod,
    cfg: { scale: r.cfgScale, weights: seeds.map(() => conditioning.weights) },
    rng: new ImageRng({ shape: [...latentShape], seeds, source: r.rng, ensd: r.ensd, ...variationFor(r, ctx) }),
    img2img: start.img2img,
    callback: (s) => opts.onProgress?.({
      batch: ctx.batch, batchCount: r.batchCount, step: s.i + 1, steps: s.steps, sigma: s.sigma, x: s.x, denoised: s.denoised, latentShape,
    }),
    signal: opts.signal,
  })
  return result.latent
}
