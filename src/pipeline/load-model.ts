/*
 * A checkpoint file made ready to run: identified, its weights read once into a WeightStore (a separate VAE merged
 * over the built-in one), and the onnxruntime sessions (text encoders, UNet, VAE decoder) built on first use and
 * cached. SD2's eps/v prediction is decided here, never guessed: --prediction > file metadata > A1111's probe.
 */
import { basename } from 'node:path'
import { InputError, ModelMismatchError, UnknownModelError } from '../core/errors.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { openTensorFile } from '../formats/open.ts'
import { identifyModel, type Identification } from '../models/detect/index.ts'
import { WeightStore } from '../models/weights.ts'
import { detectUnetConfig, UNET_PREFIX, UnetSession, type UnetConfig } from '../models/unet/index.ts'
import { TEXT_ENCODER_PRESETS, TextEncoderSession, type TextEncoderSpec } from '../models/clip/index.ts'
import { VAE_PREFIX, VaeDecoderSession, VaeEncoderSession, vaeKeyMap } from '../models/vae/index.ts'
import { layoutSignature, type LowRankLayout } from '../nn/low-rank.ts'
import { AdapterState } from './adapters.ts'
import { isInt8Weight, WEIGHT_PRECISIONS, type WeightPrecision } from '../models/int8-keys.ts'
export { WEIGHT_PRECISIONS, type WeightPrecision }

export type Arch = 'sd1' | 'sd2' | 'sdxl'
export type Prediction = 'eps' | 'v'

/** What the model predicts and how that was decided (shown to the user; the infotext and --json carry it). */
export interface PredictionChoice {
  readonly value: Prediction
  readonly source: 'flag' | 'metadata' | 'probe' | 'architecture'
  readonly detail: string
}

export interface LoadModelOptions {
  /** A separate VAE file replacing the checkpoint's `first_stage_model.*`. */
  readonly vae?: string
  readonly prediction?: Prediction
  readonly onProgress?: (done: number, total: number) => void
  /** onnxruntime intra-op threads (default: all cores). */
  readonly threads?: number
  /**
   * Also load the VAE encoder (img2img, pixel-upscaler hires fix); txt2img needs only the decoder (SD1.5: 136 MB less
   * float32 memory). Inpainting (9-channel) UNets always load it: their conditioning is an encoded picture.
   */
  readonly vaeEncoder?: boolean
  /**
   * 'auto' (default): F16 tensors held at their stored width, mapped from the file where it can be (no load-time
   * copy; each run casts them to float32 where they are used, exactly). 'fp32': every tensor widened at load.
   * 'int8': UNet and text-encoder Linear/Conv weights held as weight-only int8 (models/int8-keys.ts), quantized as
   * they are read: a quarter of their float32 memory, each run dequantizing them where they are used.
   * 'w8a8': the same int8 weights; the UNet's Linear/Conv layers run integer kernels on activations quantized per
   * tensor as they are used (graph/ops.ts useIntegerKernels): faster steps, less accurate images.
   */
  readonly weights?: WeightPrecision
}

/** The text encoders of each architecture, as A1111 runs them (the SDXL refiner: bigG alone). */
export type TextEncoders =
  | { readonly arch: 'sd1' | 'sd2'; readonly encoder: TextEncoderSession }
  | { readonly arch: 'sdxl'; readonly clipL: TextEncoderSession; readonly bigG: TextEncoderSession }
  | { readonly arch: 'sdxl-refiner'; readonly bigG: TextEncoderSession }

export interface LoadedModel {
  readonly file: string
  readonly arch: Arch
  readonly identification: Identification
  readonly weights: WeightStore
  readonly unetConfig: UnetConfig
  readonly prediction: PredictionChoice
  /** 0.18215 (SD1/SD2) or 0.13025 (SDXL): latent = vae_latent · vaeScale. */
  readonly vaeScale: number
  /** The checkpoint's `alphas_cumprod` buffer, when it carries one (SDXL files do not). */
  readonly alphasCumprod: Float32Array | undefined
  /** Default width and height: 512 (SD1, SD2-eps), 768 (SD2-v), 1024 (SDXL). */
  readonly nativeSize: number
  /** The separate VAE file, when one was merged. */
  readonly vaeFile: string | undefined
  /** The LoRAs applied to the weights and the files they came from (pipeline/adapters.ts prepareAdapters sets them). */
  readonly adapterState: AdapterState
  /** SD1 honours clip skip (1 = last layer); SD2 and SDXL ignore it, as A1111 does. */
  textEncoders(clipSkip?: number): Promise<TextEncoders>
  unet(): Promise<UnetSession>
  vaeDecoder(): Promise<VaeDecoderSession>
  /** Needs the encoder weights (LoadModelOptions.vaeEncoder, or a 9-channel UNet). */
  vaeEncoder(): Promise<VaeEncoderSession>
  /**
   * Releases the cached sessions of one kind (their onnxruntime arenas go with them); the next use rebuilds them.
   * txt2img does this between phases so the UNet's and the VAE's activation memory are never held at once.
   */
  releaseSessions(kind: SessionKind): Promise<void>
  release(): Promise<void>
}

export type SessionKind = 'text' | 'unet' | 'vae'

/** The refiner is SDXL for everything but its text encoder and conditioning vector (same VAE, latent, schedule). */
const ARCH_OF: Readonly<Record<string, Arch>> = { 'sd1': 'sd1', 'sd2': 'sd2', 'sdxl-base': 'sdxl', 'sdxl-refiner': 'sdxl' }
const TEXT_PREFIXES: Readonly<Record<Arch, string>> = {
  sd1: 'cond_stage_model.transformer.', sd2: 'cond_stage_model.model.', sdxl: 'conditioner.embedders.',
}
const VAE_DECODER_PREFIXES = [`${VAE_PREFIX}decoder.`, `${VAE_PREFIX}post_quant_conv.`]

/** Input channels of an inpainting UNet: latent 4 + mask 1 + masked-picture latent 4. */
export const INPAINT_CHANNELS = 9

/** The UNet's input channels from the file's header (before any weight is read). */
function unetInChannels(source: TensorSource): number | undefined {
  const key = `${UNET_PREFIX}input_blocks.0.0.weight`
  return source.has(key) ? source.info(key).shape[1] : undefined
}

/** The key prefixes loadModel reads: UNet, text encoder(s), the VAE decoder (and encoder when asked). */
const prefixesFor = (arch: Arch, vaeEncoder: boolean): string[] =>
  [UNET_PREFIX, TEXT_PREFIXES[arch], ...(vaeEncoder ? [VAE_PREFIX] : VAE_DECODER_PREFIXES)]

const an = (word: string): string => (/^[aeiou]|^S[DX]|^[FHLMNRSX][^a-z]/i.test(word) ? `an ${word}` : `a ${word}`)

const PART_NAMES: Readonly<Record<string, string>> = {
  'vae': 'standalone VAE', 'text-encoder': 'standalone text encoder', 'unet-only': 'UNet without VAE and text encoder', 'controlnet': 'ControlNet',
}

/** The architecture of a checkpoint, or a one-line error naming the file and what it is. */
export function checkpointArch(file: string, id: Identification): Arch {
  const label = id.architecture.label
  if (id.kind === 'lora') {
    throw new ModelMismatchError(file, `is a LoRA (${label}), not a checkpoint. Hint: pass it with --lora FILE and a checkpoint with --model.`)
  }
  if (id.kind === 'embedding') {
    throw new ModelMismatchError(file, `is a textual-inversion embedding (${label}), not a checkpoint. Hint: put it in the --embeddings DIR and pass a checkpoint with --model.`)
  }
  if (id.kind === 'unknown') throw new UnknownModelError(file, `is not a Stable Diffusion checkpoint: ${id.reason}.`)
  if (id.kind !== 'checkpoint') {
    const flag = id.kind === 'vae' ? ' Hint: pass it with --vae and a checkpoint with --model.' : ' Hint: pass a complete checkpoint with --model.'
    throw new UnknownModelError(file, `is ${an(PART_NAMES[id.kind])} (${label}), not a full checkpoint (UNet + VAE + text encoder).${flag}`)
  }
  const arch = ARCH_OF[id.architecture.id]
  if (!arch || !id.architecture.supported) {
    const why = id.foreign ? ` (${id.architecture.note})` : ''
    throw new UnknownModelError(file, `is ${an(label)} checkpoint${why}; sdloom runs SD1.x, SD2.x, SDXL base and SDXL refiner checkpoints.`)
  }
  return arch
}

/** A checkpoint's architecture from its header alone (milliseconds): to refuse a second model before loading it. */
export async function checkpointArchOfFile(path: string): Promise<Arch> {
  const source = await openTensorFile(path)
  try {
    return checkpointArch(path, identifyModel(source))
  } finally {
    await source.close()
  }
}

export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const source = await openTensorFile(path)
  try {
    const identification = identifyModel(source)
    const arch = checkpointArch(path, identification)
    const prefixes = prefixesFor(arch, (opts.vaeEncoder ?? false) || unetInChannels(source) === INPAINT_CHANNELS)
    const precision = opts.weights ?? 'auto'
    const weights = await WeightStore.load(source, {
      prefixes, onProgress: opts.onProgress, keepF16: precision !== 'fp32', ...(precision === 'int8' || precision === 'w8a8' ? { int8: isInt8Weight } : {}),
    })
    const alphasCumprod = source.has('alphas_cumprod') ? await source.readF32('alphas_cumprod') : undefined
    if (opts.vae) await mergeVae(weights, opts.vae, prefixes)
    const unetConfig = detectUnetConfig(weights)
    if (unetConfig.inChannels !== 4 && unetConfig.inChannels !== INPAINT_CHANNELS) {
      throw new UnknownModelError(path, `is ${an(identification.architecture.label)} checkpoint whose UNet takes ${unetConfig.inChannels} input channels `
        + `(tensor "${unetConfig.sources.inChannels}"); sdloom runs 4-channel UNets and 9-channel inpainting UNets.`)
    }
    const refiner = identification.architecture.id === 'sdxl-refiner'
    const sessions = new SessionCache(weights, unetConfig, opts.threads, refiner, precision === 'w8a8')
    const prediction = await decidePrediction(arch, source, opts.prediction, sessions, refiner)
    return {
      file: path, arch, identification, weights, unetConfig, prediction,
      vaeScale: arch === 'sdxl' ? 0.13025 : 0.18215,
      alphasCumprod,
      nativeSize: arch === 'sdxl' ? 1024 : arch === 'sd2' && prediction.value === 'v' ? 768 : 512,
      vaeFile: opts.vae,
      adapterState: new AdapterState(weights, arch),
      textEncoders: (clipSkip = 1) => sessions.textEncoders(arch, clipSkip),
      unet: () => sessions.unet(),
      vaeDecoder: () => sessions.vaeDecoder(),
      vaeEncoder: () => sessions.vaeEncoder(),
      releaseSessions: (kind) => sessions.release(kind),
      release: () => sessions.release(),
    }
  } finally {
    await source.close()
  }
}

/** Merges a separate VAE file over the store's VAE keys under `prefixes` (at load, the engine's VAE switch, vae-encoder-weights.ts). */
export async function mergeVae(weights: WeightStore, file: string, prefixes: readonly string[]): Promise<void> {
  const vae = await openTensorFile(file)
  try {
    const map = vaeKeyMap(vae.keys())
    const decoderKey = `${VAE_PREFIX}decoder.conv_in.weight`
    if (!vae.keys().some((k) => map.rename(k) === decoderKey)) {
      throw new UnknownModelError(file, `is not a VAE: no decoder weights ("decoder.conv_in.weight" or "${decoderKey}"). Hint: --vae takes a VAE file such as vae-ft-mse-840000-ema-pruned.safetensors.`)
    }
    await weights.merge(vae, {
      rename: (k) => {
        const key = map.rename(k)
        return key !== undefined && prefixes.some((p) => key.startsWith(p)) ? key : undefined
      },
    })
  } finally {
    await vae.close()
  }
}

/**
 * Lazily built sessions, each created once (concurrent callers share the same promise). A session is rebuilt when the
 * low-rank layout of its network (bypassed adapter layers, nn/low-rank.ts) changed since it was built, or which of its
 * float16 weights are patched (a patched weight is fed as float32); a switch between adapters with the same layout
 * and the same patched keys keeps it (the new weights are feeds).
 */
class SessionCache {
  private readonly cache = new Map<string, Promise<{ release(): Promise<void> }>>()
  private readonly layouts = new Map<string, string>()
  constructor(readonly weights: WeightStore, private readonly config: UnetConfig, private readonly threads: number | undefined,
    private readonly sdxlRefiner: boolean, private readonly integerKernels: boolean) {}

  private async once<T extends { release(): Promise<void> }>(key: string, prefix: string, make: (lowRank: LowRankLayout) => Promise<T>): Promise<T> {
    const layout = this.weights.lowRankLayout(prefix)
    const signature = `${layoutSignature(layout)}|${this.weights.widthSignature(prefix)}`
    const built = this.cache.get(key)
    if (built && this.layouts.get(key) !== signature) {
      this.cache.delete(key)
      await (await built).release()
    }
    if (!this.cache.has(key)) {
      this.cache.set(key, make(layout))
      this.layouts.set(key, signature)
    }
    return this.cache.get(key) as Promise<T>
  }

  private encoder(spec: TextEncoderSpec, key: string): Promise<TextEncoderSession> {
    return this.once(key, spec.prefix, (lowRank) => TextEncoderSession.create(this.weights, spec, { threads: this.threads, lowRank }))
  }

  async textEncoders(arch: Arch, clipSkip: number): Promise<TextEncoders> {
    if (!Number.isInteger(clipSkip) || clipSkip < 1) throw new InputError(`clip skip must be an integer >= 1, got ${clipSkip}`)
    if (arch === 'sdxl' && this.sdxlRefiner) return { arch: 'sdxl-refiner', bigG: await this.encoder(TEXT_ENCODER_PRESETS.sdxlRefinerBigG, 'bigG') }
    if (arch === 'sdxl') {
      return { arch, clipL: await this.encoder(TEXT_ENCODER_PRESETS.sdxlClipL, 'clipL'), bigG: await this.encoder(TEXT_ENCODER_PRESETS.sdxlBigG, 'bigG') }
    }
    if (arch === 'sd2') return { arch, encoder: await this.encoder(TEXT_ENCODER_PRESETS.sd2, 'sd2') }
    return { arch, encoder: await this.encoder({ ...TEXT_ENCODER_PRESETS.sd1, layer: clipSkip }, `sd1.${clipSkip}`) }
  }

  unet(): Promise<UnetSession> {
    return this.once('unet', UNET_PREFIX, (lowRank) => UnetSession.create(this.config, this.weights, { threads: this.threads, lowRank, integerKernels: this.integerKernels }))
  }

  vaeDecoder(): Promise<VaeDecoderSession> {
    return this.once('vae', VAE_PREFIX, () => VaeDecoderSession.create(this.weights, { threads: this.threads }))
  }

  vaeEncoder(): Promise<VaeEncoderSession> {
    if (!this.weights.has(`${VAE_PREFIX}encoder.conv_in.weight`)) {
      throw new InputError('the VAE encoder was not loaded. Hint: load the model with { vaeEncoder: true } for img2img.')
    }
    return this.once('vae-encoder', VAE_PREFIX, () => VaeEncoderSession.create(this.weights, { threads: this.threads }))
  }

  /** All sessions, or those of one kind (cache keys: 'unet', 'vae', 'vae-encoder', text encoders otherwise). */
  async release(kind?: SessionKind): Promise<void> {
    const kindOf = (key: string): SessionKind => (key === 'unet' || key === 'vae' ? key : key === 'vae-encoder' ? 'vae' : 'text')
    const keys = [...this.cache.keys()].filter((k) => kind === undefined || kindOf(k) === kind)
    for (const k of keys) {
      const s = this.cache.get(k) as Promise<{ release(): Promise<void> }>
      this.cache.delete(k)
      await (await s).release()
    }
  }
}

async function decidePrediction(arch: Arch, source: TensorSource, flag: Prediction | undefined, sessions: SessionCache, refiner: boolean): Promise<PredictionChoice> {
  if (flag) return { value: flag, source: 'flag', detail: `--prediction ${flag}` }
  const fromMetadata = predictionFromMetadata(source.metadata)
  if (fromMetadata) return fromMetadata
  if (arch !== 'sd2') return { value: 'eps', source: 'architecture', detail: `${arch === 'sd1' ? 'SD1.x' : refiner ? 'SDXL refiner' : 'SDXL base'} predicts eps` }
  const mean = await probeVPrediction(sessions)
  return {
    value: mean < -1 ? 'v' : 'eps', source: 'probe',
    detail: `A1111's SD2 probe: mean(UNet(0.5, t=999) - 0.5) = ${mean.toPrecision(4)} (${mean < -1 ? '< -1: v' : '>= -1: eps'})`,
  }
}

/** modelspec.prediction_type ("v" / "epsilon") or kohya's ss_v_parameterization ("True" / "False"). */
export function predictionFromMetadata(md: Readonly<Record<string, string>>): PredictionChoice | undefined {
  const spec = md['modelspec.prediction_type']?.trim().toLowerCase()
  if (spec === 'v' || spec === 'v_prediction') return { value: 'v', source: 'metadata', detail: `modelspec.prediction_type = ${md['modelspec.prediction_type']}` }
  if (spec === 'epsilon' || spec === 'eps') return { value: 'eps', source: 'metadata', detail: `modelspec.prediction_type = ${md['modelspec.prediction_type']}` }
  const kohya = md.ss_v_parameterization?.trim()
  if (kohya === 'True' || kohya === 'true') return { value: 'v', source: 'metadata', detail: `ss_v_parameterization = ${kohya}` }
  if (kohya === 'False' || kohya === 'false') return { value: 'eps', source: 'metadata', detail: `ss_v_parameterization = ${kohya}` }
  return undefined
}

/**
 * A1111 1.8 `sd_models_config.is_using_v_parameterization_for_sd2`: run the UNet once on x = 0.5 [1,4,8,8],
 * t = 999, context = 0.5 [1,2,ctx]; a v-model's output minus x has mean below -1.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/sd_models_config.py
 */
async function probeVPrediction(sessions: SessionCache): Promise<number> {
  const unet = await sessions.unet()
  const ctx = unet.config.contextDim
  const x = new Float32Array(4 * 8 * 8).fill(0.5)
  const out = await unet.run({
    x: { shape: [1, 4, 8, 8], data: x },
    t: { shape: [1], data: Float32Array.of(999) },
    context: { shape: [1, 2, ctx], data: new Float32Array(2 * ctx).fill(0.5) },
  }, sessions.weights)
  let sum = 0
  for (let i = 0; i < out.data.length; i++) sum += out.data[i] - 0.5
  return sum / out.data.length
}

export const describeModel = (m: LoadedModel): string =>
  `${basename(m.file)}: ${m.identification.architecture.label}, ${m.prediction.value}-prediction (${m.prediction.detail})`
