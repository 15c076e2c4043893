/**
 * The generate form's parameters, how they become a /sdloom/v1/jobs body (A1111 txt2img fields; model, VAE and clip
 * skip as override_settings, as A1111 clients send them), and how A1111 infotext parameters (from /sdapi/v1/png-info)
 * map back onto the form, listing what did not map.
 */
import type { Catalog } from './types.ts'

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
}

export const DEFAULTS: GenParams = {
  prompt: '', negative: '', checkpoint: '', vae: 'Automatic', sampler: 'Euler a', scheduler: '', steps: 20, cfg: 7, seed: -1,
  width: 512, height: 512, batchCount: 1, batchSize: 1, clipSkip: 1,
}

export function toJobBody(p: GenParams): Record<string, unknown> {
  return {
    prompt: p.prompt, negative_prompt: p.negative, sampler_name: p.sampler, ...(p.scheduler ? { scheduler: p.scheduler } : {}),
    // The jobs API's schema defaults save_images to false (A1111's txt2img default): ask for it, or history stays empty.
    save_images: true, steps: p.steps, cfg_scale: p.cfg, seed: p.seed, width: p.width, height: p.height, n_iter: p.batchCount, batch_size: p.batchSize,
    override_settings: {
      ...(p.checkpoint ? { sd_model_checkpoint: p.checkpoint } : {}), sd_vae: p.vae, CLIP_stop_at_last_layers: p.clipSkip,
      // About ten previews per image, as often as A1111's default shows them on short runs.
      live_previews_enable: true, show_progress_every_n_steps: Math.max(1, Math.round(p.steps / 10)),
    },
  }
}

const num = (v: string | undefined): number | undefined => (v === undefined || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v))

/** Infotext fields the form restores; the rest are listed as not restored. */
const HANDLED = new Set(['Prompt', 'Negative prompt', 'Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Size-1', 'Size-2', 'Model', 'Model hash', 'VAE', 'VAE hash', 'Clip skip'])

export interface Restored { readonly params: GenParams; readonly notRestored: readonly string[] }

function checkpointOf(fields: Readonly<Record<string, string>>, catalog: Catalog, notRestored: string[]): string | undefined {
  const name = fields.Model
  const hash = fields['Model hash']
  if (name === undefined && hash === undefined) return undefined
  const hit = catalog.checkpoints.find((c) => hash !== undefined && c.hash === hash)
    ?? catalog.checkpoints.find((c) => c.model_name === name || c.title === name || c.title.replace(/\.[^.]+( \[\w+\])?$/, '') === name)
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
  }
  return { params, notRestored }
}
