/**
 * An A1111 txt2img body (validated by txt2img-schema.ts) + the settings → the Engine's plain-data request, checked
 * against the server's limits. What sdloom does not do yet is refused by name (hires fix, scripts, variation
 * seeds) rather than silently ignored; fields that only change A1111's UI (restore_faces off, do_not_save_*) are
 * ignored as A1111 itself overwrites them.
 */
import { randomInt } from 'node:crypto'
import { InputError } from '../core/errors.ts'
import type { GenerationRequest } from '../engine/contract.ts'
import { validateRequest } from '../engine/validate.ts'
import { LimitError } from './http-errors.ts'
import type { Options } from './options-store.ts'
import { applyStyles, type PromptStyle } from './styles.ts'
import type { Txt2ImgBody } from './txt2img-schema.ts'

export interface ServerLimits {
  /** width × height of one image. */
  readonly maxPixels: number
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
  maxPixels: 2048 * 2048, maxSteps: 150, maxBatchSize: 8, maxBatchCount: 100, maxQueue: 100, bodyLimit: 50 * 1024 * 1024,
  requestTimeoutMs: 60_000, maxEventStreams: 64,
}

/** What a generation job row holds: everything a worker needs to redo it after a restart. */
export interface GenerationJobPayload {
  readonly request: GenerationRequest
  /** Which face accepted it: A1111's blocking txt2img or sdloom's jobs API. */
  readonly face: 'a1111' | 'native'
  readonly saveImages: boolean
  /** Output folder relative to the data folder (A1111's outdir_txt2img_samples). */
  readonly outdir: string
  readonly modelTitle: string
  readonly styles: readonly string[]
  /** The request as A1111 echoes it back in `parameters`. */
  readonly parameters: Readonly<Record<string, unknown>>
}

function checkLimits(r: { width: number; height: number; steps: number; batchSize: number; batchCount: number }, limits: ServerLimits): void {
  const over = (what: string, value: number, limit: number, flag: string): LimitError =>
    new LimitError(`${what} ${value} is over the server's limit of ${limit} (${flag}). Hint: ask for less, or start the server with a higher ${flag}`)
  if (r.width * r.height > limits.maxPixels) throw over(`width × height = ${r.width}×${r.height} =`, r.width * r.height, limits.maxPixels, '--max-pixels')
  if (r.steps > limits.maxSteps) throw over('steps', r.steps, limits.maxSteps, '--max-steps')
  if (r.batchSize > limits.maxBatchSize) throw over('batch_size', r.batchSize, limits.maxBatchSize, '--max-batch-size')
  if (r.batchCount > limits.maxBatchCount) throw over('n_iter', r.batchCount, limits.maxBatchCount, '--max-batch-count')
  for (const [k, v] of Object.entries(r)) if (v < 1) throw new InputError(`${k === 'batchCount' ? 'n_iter' : k === 'batchSize' ? 'batch_size' : k} must be at least 1, got ${v}`)
}

function refuseUnsupported(b: Txt2ImgBody): void {
  if (b.enable_hr === true) throw new InputError('enable_hr: hires fix is not supported by sdloom yet; send enable_hr: false')
  if (b.script_name) throw new InputError(`Script '${b.script_name}' not found`)
  const always = Object.keys(b.alwayson_scripts ?? {})
  if (always.length > 0) throw new InputError(`always on script ${always[0]} not found`)
  if ((b.subseed_strength ?? 0) !== 0) throw new InputError('subseed_strength: variation seeds are not supported by sdloom yet; send 0')
}

const RNG: Record<string, GenerationRequest['rng']> = { GPU: 'gpu', CPU: 'cpu', NV: 'nv' }

export interface MapContext {
  readonly options: Options
  readonly limits: ServerLimits
  readonly styles: readonly PromptStyle[]
  /** The checkpoint to run: the option's title, or the library's first checkpoint when the option is empty. */
  readonly checkpoint: (ref: string) => string
}

/** Body → job payload; throws InputError/LimitError/LibraryNameError for what cannot run. */
export function toGenerationPayload(b: Txt2ImgBody, face: GenerationJobPayload['face'], ctx: MapContext): GenerationJobPayload {
  refuseUnsupported(b)
  const o = ctx.options
  const dims = { width: b.width ?? 512, height: b.height ?? 512, steps: b.steps ?? 50, batchSize: b.batch_size ?? 1, batchCount: b.n_iter ?? 1 }
  checkLimits(dims, ctx.limits)
  const samplerName = b.sampler_name || b.sampler_index || 'Euler'
  const seed = b.seed === null || b.seed === undefined || b.seed === -1 ? randomInt(0, 4294967294) : b.seed
  const styles = b.styles ?? []
  const { prompt, negativePrompt } = applyStyles(b.prompt ?? '', b.negative_prompt ?? '', styles, ctx.styles)
  const modelTitle = ctx.checkpoint(o.sd_model_checkpoint)
  const vae = o.sd_vae === 'Automatic' || o.sd_vae === 'None' || o.sd_vae === '' ? undefined : o.sd_vae
  const previewEvery = o.live_previews_enable && o.show_progress_every_n_steps > 0 ? o.show_progress_every_n_steps : 0
  const request: GenerationRequest = {
    mode: 'txt2img', model: modelTitle, ...(vae ? { vae } : {}), prompt, negativePrompt, steps: dims.steps, cfgScale: b.cfg_scale ?? 7,
    sampler: samplerName, ...(b.scheduler ? { scheduler: b.scheduler } : {}), seed, rng: RNG[o.randn_source] ?? 'gpu',
    width: dims.width, height: dims.height, batchSize: dims.batchSize, batchCount: dims.batchCount,
    clipSkip: Number(o.CLIP_stop_at_last_layers), ensd: Number(o.eta_noise_seed_delta), loraMode: 'auto', previewEvery,
  }
  validateRequest(request) // the engine's own checks (sampler and scheduler names, sizes), before the job is queued
  const parameters = { ...b, seed, sampler_name: samplerName }
  return { request, face, saveImages: b.save_images === true, outdir: o.outdir_txt2img_samples || 'outputs/txt2img-images', modelTitle, styles, parameters }
}
