/*
 * The Engine's public contract: plain-data requests in, typed events and finished images out. Every face (the CLI,
 * `sdloom serve`, `sdloom worker`) speaks to an `EngineApi`; the in-process Engine and the worker-thread client both
 * implement it, so a face never knows which one it holds. Everything here is JSON-serializable except the byte
 * arrays (Uint8Array, which postMessage transfers and structuredClone copies) and the AbortSignal of a call.
 *
 * Modes are members of the `mode` union, never flags on the txt2img shape: txt2img (with hires fix as its option) and
 * img2img (with inpainting as its option). Variation seeds apply to every mode. Requests holding pixels (img2img's
 * init picture and mask) travel as JSON through request-json.ts, which writes the bytes as base64.
 */
import type { LatentDecoder } from '../pipeline/decode.ts'
import type { HiresOptions } from '../pipeline/hires.ts'
import type { LoadedModel } from '../pipeline/load-model.ts'
import type { BatchProgress } from '../pipeline/run-batches.ts'
import type { SamplerParams } from '../sampling/index.ts'

/** A LoRA/LyCORIS named outside the prompt (A1111's `<lora:NAME:W>` in the prompt is read as well). */
export interface AdapterRef {
  /** A name the engine's resolver knows (library name, alias) or, for the CLI's resolver, a file path. */
  readonly name: string
  /** Text-encoder weight (A1111's te multiplier); default 1. */
  readonly weight?: number
  /** UNet weight; default = weight. */
  readonly unetWeight?: number
}

/** Options shared by every generation mode. All optional fields have A1111's defaults. */
export interface GenerationBase {
  /** Checkpoint: a path (CLI), or a library title/name/hash (server); resolved by the engine's ModelResolver. */
  readonly model: string
  /** A separate VAE (name or path); undefined or 'Automatic' = the checkpoint's own. */
  readonly vae?: string
  readonly prompt: string
  readonly negativePrompt?: string
  /** Default 20. */
  readonly steps?: number
  /** Default 7. */
  readonly cfgScale?: number
  /** A1111 or ComfyUI sampler name; default "Euler a". */
  readonly sampler?: string
  /** Schedule type; default "Automatic". */
  readonly scheduler?: string
  /** −1 or absent: random. */
  readonly seed?: number
  readonly rng?: 'gpu' | 'cpu' | 'nv'
  readonly width?: number
  readonly height?: number
  readonly batchSize?: number
  readonly batchCount?: number
  readonly clipSkip?: number
  readonly ensd?: number
  readonly loras?: readonly AdapterRef[]
  /** merge (default for one-shot callers), bypass, or auto (bypass at once, merge when the same set repeats). */
  readonly loraMode?: 'merge' | 'bypass' | 'auto'
  /** Unmatched adapter keys are errors, not warnings. */
  readonly strict?: boolean
  /** SD2: eps/v override. */
  readonly prediction?: 'eps' | 'v'
  /** Weight precision of the UNet and text encoders: 'fp32' (default) or 'int8' (weight-only, a quarter of the memory). */
  readonly weights?: 'auto' | 'fp32' | 'int8' | 'w8a8'
  readonly vaeTiling?: 'auto' | 'on' | 'off'
  /** A preview image every N sampling steps (0 or absent: none). */
  readonly previewEvery?: number
  /** How previews are made: 'cheap' (A1111 "Approx cheap", default) or 'taesd' (A1111 "TAESD"; cheap when none is installed). */
  readonly previewMethod?: 'cheap' | 'taesd'
  /** A1111's sampler parameters (eta, churn, s_noise, schedule sigma/rho, NGMS, Skip Early CFG); absent: defaults. */
  readonly samplerParams?: SamplerParams
  /** A1111 refiner_checkpoint: a checkpoint (resolved like `model`) that takes over at refinerSwitchAt. */
  readonly refiner?: string
  /** A1111 refiner_switch_at in (0, 1]; default 0.8. */
  readonly refinerSwitchAt?: number
  /** A1111 sdxl_refiner_high_aesthetic_score: an SDXL refiner's aesthetic score for the prompt (default 6). */
  readonly aestheticScore?: number
  /** A1111 sdxl_refiner_low_aesthetic_score: for the negative prompt (default 2.5). */
  readonly negativeAestheticScore?: number
  /** A1111 subseed ("Variation seed"; −1 or absent: random); used when subseedStrength > 0. */
  readonly subseed?: number
  /** A1111 subseed_strength ("Variation strength") in [0, 1]; default 0 (off). */
  readonly subseedStrength?: number
  /** A1111 seed_resize_from_w/h ("Resize seed from"), multiples of 8: the noise is drawn at this size and centred. */
  readonly seedResizeFrom?: { readonly width: number; readonly height: number }
}

/**
 * Hires fix, an option of txt2img (A1111 enable_hr and its hr_* fields): a second pass at a larger size over the first
 * pass's latents. Every field is optional (A1111's defaults); the second pass's prompt, sampler, schedule and CFG
 * default to the first pass's.
 */
export interface HiresFix extends Omit<HiresOptions, 'resize' | 'checkpointTitle'> {
  /**
   * A1111 hr_checkpoint_name: another checkpoint (resolved like `model`, same family) for the second pass: its text
   * encoders, UNet and VAE, with the request's LoRAs and embeddings; absent = the first pass's model.
   */
  readonly checkpoint?: string
  /** hr_resize_x / hr_resize_y, flat as A1111's API has them (0 = from the other side and the aspect ratio). */
  readonly resizeWidth?: number
  readonly resizeHeight?: number
  /** A1111's ESRGAN_tile / ESRGAN_tile_overlap settings for a network upscaler (192 / 8; tile 0 = the whole picture). */
  readonly upscalerTile?: number
  readonly upscalerTileOverlap?: number
}

export interface Txt2ImgGeneration extends GenerationBase {
  readonly mode: 'txt2img'
  readonly hires?: HiresFix
}

/**
 * A1111 resize_mode: 0 'just' (stretch), 1 'crop' (cover, cut the overflow), 2 'fill' (fit, extend the edges),
 * 3 'latent' (encode at the picture's own size, then resize the latents bilinearly: "Just resize (latent upscale)").
 */
export type ResizeModeName = 'just' | 'crop' | 'fill' | 'latent'

/** The names by A1111's resize_mode number (a face mapping A1111's API: RESIZE_MODE_NAMES[resize_mode]). */
export const RESIZE_MODE_NAMES: readonly ResizeModeName[] = ['just', 'crop', 'fill', 'latent']

/** A1111 inpainting_fill 0..3 ("Masked content"). */
export type InpaintFillName = 'fill' | 'original' | 'latent-noise' | 'latent-nothing'

/** The names by A1111's inpainting_fill number (0 fill, 1 original, 2 latent noise, 3 latent nothing). */
export const INPAINT_FILL_NAMES: readonly InpaintFillName[] = ['fill', 'original', 'latent-noise', 'latent-nothing']

/** 8-bit single-channel pixels (PIL mode 'L'), row-major, 1 byte a pixel; 255 = repaint. */
export interface MaskImage {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/** Inpainting, an option of img2img (A1111's mask, mask_blur, inpainting_fill, inpaint_full_res…, inpainting_mask_invert). */
export interface InpaintRequest {
  readonly mask: MaskImage
  /** A1111 mask_blur in pixels; default 4. */
  readonly maskBlur?: number
  /** A1111 inpainting_mask_invert: repaint the black part. */
  readonly invertMask?: boolean
  /** Default 'original'. */
  readonly fill?: InpaintFillName
  /** A1111 inpaint_full_res ("Only masked") with inpaint_full_res_padding (default 32); absent: the whole picture. */
  readonly onlyMasked?: { readonly padding?: number }
}

/** img2img (A1111 /sdapi/v1/img2img): rework `init` from the prompt at a denoising strength; with `inpaint`, only its mask. */
export interface Img2ImgGeneration extends GenerationBase {
  readonly mode: 'img2img'
  /** The picture to start from, flattened to RGB (the face decodes files; transparency is the face's choice). */
  readonly init: RgbImage
  /** A1111 denoising_strength in (0, 1]; default 0.75. */
  readonly denoisingStrength?: number
  /** Default 'just'. */
  readonly resizeMode?: ResizeModeName
  readonly inpaint?: InpaintRequest
}

/** One request type with modes. */
export type GenerationRequest = Txt2ImgGeneration | Img2ImgGeneration

/** 8-bit RGB pixels, row-major, 3 bytes a pixel. */
export interface RgbImage {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/** 'hash': the checkpoint is read once to learn its SHA-256 (its identity; done/total in bytes), only when not known. */
export type EnginePhase = 'load' | 'hash' | 'adapters' | 'encode' | 'sample' | 'decode'

export type EngineEvent =
  /** A phase started or advanced (done/total in items: tensors, layers, tiles); absent counts: indeterminate. */
  | { readonly type: 'phase'; readonly phase: EnginePhase; readonly done?: number; readonly total?: number; readonly label?: string }
  /** A sampling step finished. `preview` every `previewEvery` steps. */
  | {
    readonly type: 'step'; readonly batch: number; readonly batchCount: number; readonly step: number; readonly steps: number
    readonly secondsPerStep: number; readonly etaSeconds: number; readonly preview?: RgbImage
  }
  /** An image is finished (in order); `infotext` is A1111's `parameters` text. */
  | { readonly type: 'image'; readonly image: GeneratedImage }
  /** A non-fatal message (an unmatched LoRA key, a clip skip with no effect). */
  | { readonly type: 'warning'; readonly message: string }
  /** A fact worth a line (the LoRAs applied, how a prediction type was decided). */
  | { readonly type: 'log'; readonly message: string }

export interface GeneratedImage {
  /** 0-based over the whole request (batch × batchSize + position). */
  readonly index: number
  readonly seed: number
  readonly rgb: RgbImage
  readonly infotext: string
  /** The infotext's fields (image/infotext.ts GenerationInfo), JSON-safe. */
  readonly info: Readonly<Record<string, unknown>>
}

export interface GenerationResult {
  readonly images: readonly GeneratedImage[]
  /** The checkpoint file that ran, and what was decided about it (prediction, architecture). */
  readonly model: {
    readonly file: string
    readonly arch: string
    /** 'eps' or 'v'. */
    readonly prediction: string
    /** How it was decided ('flag', 'metadata', 'probe', 'architecture') and the evidence, when the engine reports it. */
    readonly predictionSource?: string
    readonly predictionDetail?: string
  }
  readonly warnings: readonly string[]
}

export interface GenerateOptions {
  /** Aborting stops at the next sampling step (or network block where the runtime allows). */
  readonly signal?: AbortSignal
  /**
   * Every event, in order. In process, a returned promise is awaited before the engine goes on (a face writing each
   * image as it comes); over the worker boundary events are delivered without waiting.
   */
  readonly onEvent?: (event: EngineEvent) => void
  /**
   * An idempotency key (the server's job id and batch): an engine that runs requests elsewhere (the Redis queue) runs
   * one request per key once, so a restarted server re-attaches to it instead of running it again. Ignored in process.
   */
  readonly key?: string
  /** In process only (the worker client and the queue ignore it): a face's own per-model setup. */
  readonly local?: LocalHooks
}

/**
 * What a face running the Engine in its own thread may plug into a run (the CLI: its TAESD decoder and live preview
 * file, notes that depend on the loaded model). Not data: never sent over a worker or queue boundary.
 */
export interface LocalHooks {
  /** Called once the model is loaded and its adapters applied, before the conditioning is built. */
  prepare?(model: LoadedModel): Promise<LocalRun>
}

export interface LocalRun {
  /** Decodes the final latents instead of the VAE (pipeline RunOptions.decoder). */
  readonly decoder?: LatentDecoder
  /** Every sampler step with its latents (a preview writer). */
  readonly onProgress?: (p: BatchProgress) => void
  /** After the run, also when it failed (its error, if any, is thrown after the run's). */
  finish?(): Promise<void>
}

/** A loaded model, as `loadedModels()` reports it (the server's /sdapi/v1/memory and sd-models use it). */
export interface LoadedModelStatus {
  readonly file: string
  readonly sha256?: string
  readonly arch: string
  /** Bytes of weights held. */
  readonly bytes: number
  readonly lastUsed: number
}

/** What every face holds: the in-process Engine and the worker-thread client implement it alike. */
export interface EngineApi {
  generate(request: GenerationRequest, options?: GenerateOptions): Promise<GenerationResult>
  loadedModels(): Promise<readonly LoadedModelStatus[]>
  /** Drops one model (by file) or all from the cache. */
  unload(file?: string): Promise<void>
  close(): Promise<void>
}

/**
 * How names in a request become files. The CLI's resolver takes paths as given; the server's asks the library (names,
 * titles, hashes; never a path from the request).
 */
export interface ModelResolver {
  checkpoint(ref: string): Promise<string>
  vae(ref: string): Promise<string>
  /** A LoRA/LyCORIS by name (from the prompt or `loras`); undefined: not found (the engine reports it). */
  lora(name: string): Promise<string | undefined>
  /** The folder of textual-inversion embeddings, if any. */
  embeddingsDir(): Promise<string | undefined>
  /** A network upscaler (ESRGAN family) by its A1111 name ("R-ESRGAN 4x+", "4x-UltraSharp"); undefined: not found. */
  upscaler?(name: string): Promise<string | undefined>
  /** The SHA-256 of a checkpoint file this resolver returned, if it knows it already (the engine then hashes nothing). */
  knownSha256?(file: string): Promise<string | undefined>
  /** The TAESD decoder file of a latent family ('sd': SD1/SD2, 'sdxl'), if one is installed (previews). */
  taesd?(family: 'sd' | 'sdxl'): Promise<string | undefined>
}
