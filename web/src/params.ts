/**
 * The generate form's parameters, how they become a /sdloom/v1/jobs body (A1111 txt2img fields; model, VAE and clip
 * skip as override_settings, as A1111 clients send them), and how A1111 infotext parameters (from /sdapi/v1/png-info)
 * map back onto the form, listing what did not map.
 */
import type { Catalog, SdModel } from './types.ts'

export interface GenParams {
  readonly prompt: string
  readonly negative: string
  /** A /sdapi/v1/sd-models title; '' = the server's current checkpoint. */
  readonly checkpoint: string
  /** A VAE model_name, or 'Automatic'. */
  readonly vae: string
  readonly sampler: string
  /** A scheduler name; '' = the sampler's own (A1111 "Automatic"). */
  readonly scheduler: string
  readonly steps: number
  readonly cfg: number
  /** -1 = random. */
  readonly seed: number
  readonly width: number
  readonly height: number
  readonly batchCount: number
  readonly batchSize: number
  readonly clipSkip: number
  /** txt2img's hires fix (the img2img tab never turns it on). */
  readonly hires: HiresParams
  /** A1111's refiner (both tabs). */
  readonly refiner: RefinerParams
}

/** A1111's "Refiner" panel: another checkpoint takes over at a fraction of the sampling. */
export interface RefinerParams {
  readonly enabled: boolean
  /** A /sdapi/v1/sd-models title; '' = none chosen yet (nothing is sent). */
  readonly checkpoint: string
  readonly switchAt: number
}

export const REFINER_DEFAULTS: RefinerParams = { enabled: false, checkpoint: '', switchAt: 0.8 }

/** A1111's "Hires. fix" panel: upscaler, upscale by, hires steps (0 = the first pass's), denoising strength, checkpoint. */
export interface HiresParams {
  readonly enabled: boolean
  readonly upscaler: string
  readonly scale: number
  readonly steps: number
  readonly denoise: number
  /** A /sdapi/v1/sd-models title; '' = "Use same checkpoint". */
  readonly checkpoint: string
}

export const HIRES_DEFAULTS: HiresParams = { enabled: false, upscaler: 'Latent', scale: 2, steps: 0, denoise: 0.7, checkpoint: '' }

export const DEFAULTS: GenParams = {
  prompt: '', negative: '', checkpoint: '', vae: 'Automatic', sampler: 'Euler a', scheduler: '', steps: 20, cfg: 7, seed: -1,
  width: 512, height: 512, batchCount: 1, batchSize: 1, clipSkip: 1, hires: HIRES_DEFAULTS, refiner: REFINER_DEFAULTS,
}

const refinerFields = (r: RefinerParams): Record<string, unknown> =>
  (r.enabled && r.checkpoint ? { refiner_checkpoint: r.checkpoint, refiner_switch_at: r.switchAt } : {})

/** A1111's txt2img hires fields (enable_hr, hr_*; denoising_strength is the second pass's on txt2img). */
function hiresFields(h: HiresParams): Record<string, unknown> {
  if (!h.enabled) return {}
  return {
    enable_hr: true, hr_upscaler: h.upscaler, hr_scale: h.scale, hr_second_pass_steps: h.steps, denoising_strength: h.denoise,
    ...(h.checkpoint ? { hr_checkpoint_name: h.checkpoint } : {}),
  }
}

/** `mode` img2img: hires fix is txt2img's only (a restored PNG may have turned it on in the img2img tab's parameters). */
export function toJobBody(p: GenParams, mode: 'txt2img' | 'img2img' = 'txt2img'): Record<string, unknown> {
  return {
    prompt: p.prompt, negative_prompt: p.negative, sampler_name: p.sampler, ...(p.scheduler ? { scheduler: p.scheduler } : {}),
    // The jobs API's schema defaults save_images to false (A1111's txt2img default): ask for it, or history stays empty.
    save_images: true, steps: p.steps, cfg_scale: p.cfg, seed: p.seed, width: p.width, height: p.height, n_iter: p.batchCount, batch_size: p.batchSize,
    ...(mode === 'txt2img' ? hiresFields(p.hires) : {}), ...refinerFields(p.refiner),
    override_settings: {
      ...(p.checkpoint ? { sd_model_checkpoint: p.checkpoint } : {}), sd_vae: p.vae, CLIP_stop_at_last_layers: p.clipSkip,
      // About ten previews per image, as often as A1111's default shows them on short runs.
      live_previews_enable: true, show_progress_every_n_steps: Math.max(1, Math.round(p.steps / 10)),
    },
  }
}

const num = (v: string | undefined): number | undefined => (v === undefined || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v))

/** Infotext fields the form restores; the rest are listed as not restored. */
const HANDLED = new Set(['Prompt', 'Negative prompt', 'Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Size-1', 'Size-2', 'Model', 'Model hash', 'VAE', 'VAE hash', 'Clip skip',
  'Hires upscale', 'Hires upscaler', 'Hires steps', 'Hires checkpoint', 'Denoising strength', 'Refiner', 'Refiner switch at'])

/**
 * A checkpoint as an infotext names it: "Model" (model_name or the file name without extension), or a second model's
 * short title ("Hires checkpoint", "Refiner": name [hash]).
 */
function checkpointByName(name: string, catalog: Catalog): SdModel | undefined {
  const bare = name.replace(/ \[\w+\]$/, '')
  return catalog.checkpoints.find((c) => c.model_name === name || c.title === name || c.title.replace(/\.[^.]+( \[\w+\])?$/, '') === bare)
}

function refinerOf(fields: Readonly<Record<string, string>>, catalog: Catalog, notRestored: string[]): RefinerParams {
  const name = fields.Refiner
  if (name === undefined) return REFINER_DEFAULTS
  const checkpoint = checkpointByName(name, catalog)?.title
  if (checkpoint === undefined) { notRestored.push(`Refiner: ${name} (not in the library)`); return REFINER_DEFAULTS }
  return { enabled: true, checkpoint, switchAt: num(fields['Refiner switch at']) ?? REFINER_DEFAULTS.switchAt }
}

/** Hires fix from an infotext: on when it names a hires upscale or upscaler (A1111 writes both with hires fix). */
function hiresOf(fields: Readonly<Record<string, string>>, catalog: Catalog, notRestored: string[]): HiresParams {
  if (fields['Hires upscale'] === undefined && fields['Hires upscaler'] === undefined) {
    if (fields['Denoising strength'] !== undefined) notRestored.push(`Denoising strength: ${fields['Denoising strength']} (no hires fix)`)
    return HIRES_DEFAULTS
  }
  const name = fields['Hires checkpoint']
  const checkpoint = name === undefined ? '' : checkpointByName(name, catalog)?.title
  if (name !== undefined && checkpoint === undefined) notRestored.push(`Hires checkpoint: ${name} (not in the library)`)
  // absent: A1111's default latent mode, written by no infotext
  const named = fields['Hires upscaler']
  const known = named !== undefined && catalog.upscalers.includes(named)
  if (named !== undefined && !known) notRestored.push(`Hires upscaler: ${named} (not installed here)`)
  return {
    enabled: true, upscaler: known ? named : HIRES_DEFAULTS.upscaler, scale: num(fields['Hires upscale']) ?? HIRES_DEFAULTS.scale,
    steps: num(fields['Hires steps']) ?? 0, denoise: num(fields['Denoising strength']) ?? HIRES_DEFAULTS.denoise, checkpoint: checkpoint ?? '',
  }
}

export interface Restored { readonly params: GenParams; readonly notRestored: readonly string[] }

function checkpointOf(fields: Readonly<Record<string, string>>, catalog: Catalog, notRestored: string[]): string | undefined {
  const name = fields.Model
  const hash = fields['Model hash']
  if (name === undefined && hash === undefined) return undefined
  const hit = catalog.checkpoints.find((c) => hash !== undefined && c.hash === hash) ?? (name === undefined ? undefined : checkpointByName(name, catalog))
  if (!hit) notRestored.push(`Model: ${name ?? hash} (not in the library)`)
  return hit?.title
}

export function fromParameters(fields: Readonly<Record<string, string>>, current: GenParams, catalog: Catalog, keepSeed: boolean): Restored {
  const notRestored = Object.keys(fields).filter((k) => !HANDLED.has(k)).map((k) => `${k}: ${fields[k]}`)
  const sampler = fields.Sampler
  if (sampler !== undefined && !catalog.samplers.some((s) => s.name === sampler)) notRestored.push(`Sampler: ${sampler} (unknown here)`)
  const schedule = fields['Schedule type']
  const scheduler = schedule === undefined ? undefined : schedule === 'Automatic' ? '' : catalog.schedulers.find((s) => s.label === schedule || s.name === schedule)?.name
  const vae = fields.VAE === undefined ? undefined : catalog.vaes.find((v) => v.model_name === fields.VAE || v.model_name.replace(/\.[^.]+$/, '') === fields.VAE)?.model_name
  if (fields.VAE !== undefined && vae === undefined) notRestored.push(`VAE: ${fields.VAE} (not in the library)`)
  const params: GenParams = {
    ...current,
    prompt: fields.Prompt ?? current.prompt,
    negative: fields['Negative prompt'] ?? '',
    checkpoint: checkpointOf(fields, catalog, notRestored) ?? current.checkpoint,
    vae: vae ?? (fields.VAE === undefined ? 'Automatic' : current.vae),
    sampler: sampler !== undefined && catalog.samplers.some((s) => s.name === sampler) ? sampler : current.sampler,
    scheduler: scheduler ?? current.scheduler,
    steps: num(fields.Steps) ?? current.steps,
    cfg: num(fields['CFG scale']) ?? current.cfg,
    seed: keepSeed ? current.seed : num(fields.Seed) ?? current.seed,
    width: num(fields['Size-1']) ?? current.width,
    height: num(fields['Size-2']) ?? current.height,
    clipSkip: num(fields['Clip skip']) ?? 1,
    hires: hiresOf(fields, catalog, notRestored),
    refiner: refinerOf(fields, catalog, notRestored),
  }
  return { params, notRestored }
}
