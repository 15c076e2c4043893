/**
 * A1111's settings (`/sdapi/v1/options`, a1111-api.md §7), persisted as `config.json` in the data folder. GET returns
 * every key below; POST accepts any subset, including the whole GET object sent back (Open WebUI does), checks each
 * known key's type, ignores A1111's API-restricted keys, and keeps unknown keys as given (A1111 has ~300 settings;
 * clients that post one sdloom does not use must not fail). Output folders are confined to the data folder.
 */
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, normalize } from 'node:path'
import { writeFileAtomic } from '../core/atomic-write.ts'
import { InputError } from '../core/errors.ts'

export const DEFAULT_OPTIONS = {
  sd_model_checkpoint: '',
  sd_checkpoint_hash: '',
  sd_vae: 'Automatic',
  CLIP_stop_at_last_layers: 1,
  eta_noise_seed_delta: 0,
  randn_source: 'GPU',
  samples_format: 'png',
  samples_save: true,
  save_images_add_number: true,
  grid_save: false,
  return_grid: true,
  enable_pnginfo: true,
  outdir_samples: '',
  outdir_txt2img_samples: 'outputs/txt2img-images',
  outdir_img2img_samples: 'outputs/img2img-images',
  live_previews_enable: true,
  show_progress_every_n_steps: 10,
  show_progress_type: 'Approx cheap',
  show_progress_grid: true,
  eta_ancestral: 1,
  eta_ddim: 0,
  s_churn: 0,
  s_tmin: 0,
  s_tmax: 0,
  s_noise: 1,
  s_min_uncond: 0,
  sigma_min: 0,
  sigma_max: 0,
  rho: 0,
  skip_early_cond: 0,
  latent_upscale_default_mode: 'Latent',
  /**
   * sdloom's own: how weights are held. auto: fp16 files' weights stay 16-bit, mapped from the file (fast load, the
   * fp32 images); fp32: widened at load; int8: UNet and text-encoder weights weight-only int8 (a quarter of the memory);
   * w8a8: the same int8 weights with the UNet on integer kernels (faster steps, less accurate).
   */
  sdloom_weights: 'auto',
  sd_lora: 'None',
  lora_preferred_name: 'Alias from file',
  face_restoration: false,
  face_restoration_model: null as string | null,
  tiling: false,
  upscaler_for_img2img: null as string | null,
  sd_unet: 'Automatic',
  sd_vae_overrides_per_model_preferences: true,
  sdxl_refiner_low_aesthetic_score: 2.5,
  sdxl_refiner_high_aesthetic_score: 6.0,
}

export type OptionKey = keyof typeof DEFAULT_OPTIONS
export type Options = Record<string, unknown> & { [K in OptionKey]: (typeof DEFAULT_OPTIONS)[K] }

/** A1111's `restrict_api` keys: silently ignored when posted through the API. */
const RESTRICTED = new Set(['api_enable_requests', 'api_forbid_local_requests', 'api_useragent'])
const OUTDIRS = new Set(['outdir_samples', 'outdir_txt2img_samples', 'outdir_img2img_samples'])
const RANDN = ['GPU', 'CPU', 'NV']
const WEIGHTS = ['auto', 'fp32', 'int8', 'w8a8']

function checkValue(key: string, value: unknown): unknown {
  if (!(key in DEFAULT_OPTIONS)) return value
  const def = DEFAULT_OPTIONS[key as OptionKey]
  const want = def === null ? 'string' : typeof def
  if (value === null && def === null) return null
  if (want === 'number' && typeof value === 'number' && Number.isFinite(value)) return value
  if (want === 'number' && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  if (typeof value !== want) throw new InputError(`option ${key}: expected a ${want}, got ${JSON.stringify(value)}`)
  if (key === 'randn_source' && !RANDN.includes(value as string)) throw new InputError(`option randn_source: expected one of ${RANDN.join(', ')}, got "${String(value)}"`)
  if (key === 'sdloom_weights' && !WEIGHTS.includes(value as string)) throw new InputError(`option sdloom_weights: expected one of ${WEIGHTS.join(', ')}, got "${String(value)}"`)
  if (OUTDIRS.has(key) && value !== '' && (isAbsolute(value as string) || normalize(value as string).split(/[\\/]/).includes('..'))) {
    throw new InputError(`option ${key}: "${String(value)}" must be a folder inside the data folder (relative, without "..")`)
  }
  return value
}

export class OptionsStore {
  private constructor(private readonly file: string, private values: Options) {}

  static async open(dataDir: string): Promise<OptionsStore> {
    const file = join(dataDir, 'config.json')
    let saved: Record<string, unknown> = {}
    try { saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputError(`${file}: not valid JSON (${(e as Error).message}). Hint: fix or delete it; defaults are used then`)
    }
    return new OptionsStore(file, { ...DEFAULT_OPTIONS, ...saved } as Options)
  }

  get(): Readonly<Options> {
    return this.values
  }

  /** Checks every key first (nothing is applied when one is wrong), then applies and saves. */
  async set(changes: Readonly<Record<string, unknown>>, resolve: { checkpoint(ref: string): string }): Promise<void> {
    const next: Record<string, unknown> = { ...this.values }
    for (const [k, v] of Object.entries(changes)) {
      if (RESTRICTED.has(k)) continue
      next[k] = checkValue(k, v)
    }
    const ckpt = next.sd_model_checkpoint
    if (typeof ckpt === 'string' && ckpt !== '' && ckpt !== this.values.sd_model_checkpoint) next.sd_model_checkpoint = resolve.checkpoint(ckpt)
    this.values = next as Options
    await writeFileAtomic(this.file, `${JSON.stringify(this.values, null, 1)}\n`)
  }

  /** The values of one request: the settings with its `override_settings` applied (checked the same way). */
  withOverrides(overrides: Readonly<Record<string, unknown>> | undefined): Options {
    const out: Record<string, unknown> = { ...this.values }
    for (const [k, v] of Object.entries(overrides ?? {})) if (!RESTRICTED.has(k)) out[k] = checkValue(k, v)
    return out as Options
  }
}
