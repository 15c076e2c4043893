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
import { VAE_PREFIX, VaeDecoderSession, vaeKeyMap } from '../models/vae/index.ts'

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
}

/** The text encoders of each architecture, as A1111 runs them. */
export type TextEncoders =
  | { readonly arch: 'sd1' | 'sd2'; readonly encoder: TextEncoderSession }
  | { readonly arch: 'sdxl'; readonly clipL: TextEncoderSession; readonly bigG: TextEncoderSession }

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
  /** SD1 honours clip skip (1 = last layer); SD2 and SDXL ignore it, as A1111 does. */
  textEncoders(clipSkip?: number): Promise<TextEncoders>
  unet(): Promise<UnetSession>
  vaeDecoder(): Promise<VaeDecoderSession>
  release(): Promise<void>
}

const ARCH_OF: Readonly<Record<string, Arch>> = { 'sd1': 'sd1', 'sd2': 'sd2', 'sdxl-base': 'sdxl' }
const PREFIXES: Readonly<Record<Arch, readonly string[]>> = {
  sd1: [UNET_PREFIX, VAE_PREFIX, 'cond_stage_model.transformer.'],
  sd2: [UNET_PREFIX, VAE_PREFIX, 'cond_stage_model.model.'],
  sdxl: [UNET_PREFIX, VAE_PREFIX, 'conditioner.embedders.'],
}

/** The architecture of a checkpoint, or a one-line error naming the file and what it is. */
export function checkpointArch(file: string, id: Identification): Arch {
  const what = `${id.kind === 'lora' ? 'LoRA' : id.kind} for ${id.architecture.label}`
  if (id.kind === 'lora' || id.kind === 'embedding') {
    const flag = id.kind === 'lora' ? '--lora FILE' : '--embeddings DIR'
    throw new ModelMismatchError(file, `is a ${what}, not a checkpoint. Hint: pass it with ${flag} and a checkpoint with --model.`)
  }
  if (id.kind === 'unknown') throw new UnknownModelError(file, `is not a Stable Diffusion checkpoint: ${id.reason}.`)
  if (id.kind !== 'checkpoint') {
    throw new UnknownModelError(file, `is a ${id.architecture.label} ${id.kind} file, not a full checkpoint (UNet + VAE + text encoder). Hint: pass a complete checkpoint with --model${id.kind === 'vae' ? ' and this file with --vae' : ''}.`)
  }
  const arch = ARCH_OF[id.architecture.id]
  if (!arch || !id.architecture.supported) {
    throw new UnknownModelError(file, `is a ${id.architecture.label} checkpoint, which txt2img does not support (SD1.x, SD2.x and SDXL base are). ${id.architecture.note}`)
  }
  return arch
}

export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const source = await openTensorFile(path)
  try {
    const identification = identifyModel(source)
    const arch = checkpointArch(path, identification)
    const weights = await WeightStore.load(source, { prefixes: PREFIXES[arch], onProgress: opts.onProgress })
    const alphasCumprod = source.has('alphas_cumprod') ? await source.readF32('alphas_cumprod') : undefined
    if (opts.vae) await mergeVae(weights, opts.vae)
    const unetConfig = detectUnetConfig(weights)
    const sessions = new SessionCache(weights, unetConfig, opts.threads)
    const prediction = await decidePrediction(arch, source, opts.prediction, sessions)
    return {
      file: path, arch, identification, weights, unetConfig, prediction,
      vaeScale: arch === 'sdxl' ? 0.13025 : 0.18215,
      alphasCumprod,
      nativeSize: arch === 'sdxl' ? 1024 : arch === 'sd2' && prediction.value === 'v' ? 768 : 512,
      vaeFile: opts.vae,
      textEncoders: (clipSkip = 1) => sessions.textEncoders(arch, clipSkip),
      unet: () => sessions.unet(),
      vaeDecoder: () => sessions.vaeDecoder(),
      release: () => sessions.release(),
    }
  } finally {
    await source.close()
  }
}

async function mergeVae(weights: WeightStore, file: string): Promise<void> {
  const vae = await openTensorFile(file)
  try {
    const map = vaeKeyMap(vae.keys())
    const decoderKey = `${VAE_PREFIX}decoder.conv_in.weight`
    if (!vae.keys().some((k) => map.rename(k) === decoderKey)) {
      throw new UnknownModelError(file, `is not a VAE: no decoder weights ("decoder.conv_in.weight" or "${decoderKey}"). Hint: --vae takes a VAE file such as vae-ft-mse-840000-ema-pruned.safetensors.`)
    }
    await weights.merge(vae, { rename: map.rename })
  } finally {
    await vae.close()
  }
}

/** Lazily built sessions, each created once (concurrent callers share the same promise). */
class SessionCache {
  private readonly cache = new Map<string, Promise<{ release(): Promise<void> }>>()
  constructor(readonly weights: WeightStore, private readonly config: UnetConfig, private readonly threads: number | undefined) {}

  private once<T extends { release(): Promise<void> }>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.cache.has(key)) this.cache.set(key, make())
    return this.cache.get(key) as Promise<T>
  }

  private encoder(spec: TextEncoderSpec, key: string): Promise<TextEncoderSession> {
    return this.once(key, () => TextEncoderSession.create(this.weights, spec, { threads: this.threads }))
  }

  async textEncoders(arch: Arch, clipSkip: number): Promise<TextEncoders> {
    if (!Number.isInteger(clipSkip) || clipSkip < 1) throw new InputError(`clip skip must be an integer >= 1, got ${clipSkip}`)
    if (arch === 'sdxl') {
      return { arch, clipL: await this.encoder(TEXT_ENCODER_PRESETS.sdxlClipL, 'clipL'), bigG: await this.encoder(TEXT_ENCODER_PRESETS.sdxlBigG, 'bigG') }
    }
    if (arch === 'sd2') return { arch, encoder: await this.encoder(TEXT_ENCODER_PRESETS.sd2, 'sd2') }
    return { arch, encoder: await this.encoder({ ...TEXT_ENCODER_PRESETS.sd1, layer: clipSkip }, `sd1.${clipSkip}`) }
  }

  unet(): Promise<UnetSession> {
    return this.once('unet', () => UnetSession.create(this.config, this.weights, { threads: this.threads }))
  }

  vaeDecoder(): Promise<VaeDecoderSession> {
    return this.once('vae', () => VaeDecoderSession.create(this.weights, { threads: this.threads }))
  }

  async release(): Promise<void> {
    const all = [...this.cache.values()]
    this.cache.clear()
    for (const s of all) await (await s).release()
  }
}

async function decidePrediction(arch: Arch, source: TensorSource, flag: Prediction | undefined, sessions: SessionCache): Promise<PredictionChoice> {
  if (flag) return { value: flag, source: 'flag', detail: `--prediction ${flag}` }
  const fromMetadata = predictionFromMetadata(source.metadata)
  if (fromMetadata) return fromMetadata
  if (arch !== 'sd2') return { value: 'eps', source: 'architecture', detail: `${arch === 'sd1' ? 'SD1.x' : 'SDXL base'} predicts eps` }
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
