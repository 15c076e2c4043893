/*
 * Flags shared by `generate` and `img2img` for A1111's variation seeds and hires fix: parsing, help lines, option specs.
 */
import { basename, extname } from 'node:path'
import { InputError } from '../../core/errors.ts'
import type { HiresOptions } from '../../pipeline/hires.ts'
import type { SamplerParams } from '../../sampling/index.ts'
import type { TileOptions } from '../../image/upscale-tiles.ts'
import { loadModel } from '../../pipeline/load-model.ts'
import { checkSwitchAt } from '../../pipeline/refiner.ts'
import type { RefinerOptions } from '../../pipeline/run-batches.ts'
import { hashFile } from '../../tools/hash.ts'
import { findUpscalerModels, modelUpscaler, type ModelUpscaler, type UpscalerModelFile } from '../../pipeline/model-upscalers.ts'
import type { OptionSpec } from '../command.ts'
import type { CommandContext } from '../command.ts'
import { num, str } from '../flags.ts'

/** "WxH" → { width, height } (A1111 writes sizes this way). */
export function sizeOf(ctx: CommandContext, k: string): { width: number; height: number } | undefined {
  const v = str(ctx, k)
  if (v === undefined) return undefined
  const m = /^(\d+)x(\d+)$/i.exec(v.trim())
  if (!m) throw new InputError(`--${k} must be WIDTHxHEIGHT such as 512x768, got "${v}"`)
  return { width: Number(m[1]), height: Number(m[2]) }
}

/** Hires options when any --hires-* flag is given. */
export function hiresOf(ctx: CommandContext): HiresOptions | undefined {
  const scale = num(ctx, 'hires-scale', false)
  const resize = sizeOf(ctx, 'hires-resize')
  const upscaler = str(ctx, 'hires-upscaler') ?? defaultUpscaler(ctx)
  const steps = num(ctx, 'hires-steps')
  const denoisingStrength = num(ctx, 'hires-denoise', false)
  const second = {
    prompt: str(ctx, 'hires-prompt'), negativePrompt: str(ctx, 'hires-negative'), sampler: str(ctx, 'hires-sampler'),
    scheduler: str(ctx, 'hires-schedule'), cfgScale: num(ctx, 'hires-cfg', false),
  }
  if ([scale, resize, upscaler, steps, denoisingStrength, ...Object.values(second)].every((v) => v === undefined)) return undefined
  return { scale, resize, upscaler, steps, denoisingStrength, ...second }
}

/**
 * The network upscaler files a command may name: `--upscaler-model FILE` (named by its file name without the
 * extension, as A1111 names models/ESRGAN files) and those under `--upscalers DIR` (an A1111 webui or models folder).
 */
export async function upscalerModelsOf(ctx: CommandContext): Promise<UpscalerModelFile[]> {
  const dir = str(ctx, 'upscalers')
  const file = str(ctx, 'upscaler-model')
  return [...(file ? [{ name: basename(file, extname(file)), file }] : []), ...(dir ? await findUpscalerModels(dir) : [])]
}

/** --upscaler-tile / --upscaler-tile-overlap given (A1111's 192 / 8 otherwise). */
export function tileOptionsOf(ctx: CommandContext): Partial<TileOptions> {
  const size = num(ctx, 'upscaler-tile')
  const overlap = num(ctx, 'upscaler-tile-overlap')
  return { ...(size !== undefined ? { tileSize: size } : {}), ...(overlap !== undefined ? { tileOverlap: overlap } : {}) }
}

/** Those files as hires fix's upscalers. */
export const upscalersOf = async (ctx: CommandContext): Promise<ModelUpscaler[]> =>
  (await upscalerModelsOf(ctx)).map((m) => modelUpscaler(m, tileOptionsOf(ctx)))

/** --hires-upscaler's default when only --upscaler-model is given: that model. */
export const defaultUpscaler = (ctx: CommandContext): string | undefined => {
  const file = str(ctx, 'upscaler-model')
  return file ? basename(file, extname(file)) : undefined
}

export const UPSCALER_HELP = [
  '  --upscalers DIR      an A1111 webui (or models) folder: models/ESRGAN/* by file name, models/RealESRGAN by',
  '                       A1111\'s names ("R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B", "R-ESRGAN 2x+")',
  '  --upscaler-model FILE  an ESRGAN-family (RRDBNet) .pth/.safetensors, named by its file name without extension',
  '  --upscaler-tile N    tile size for network upscalers (192, A1111\'s default; 0 = whole picture)',
  '  --upscaler-tile-overlap N  tile overlap in pixels (8)',
]

export const UPSCALER_OPTIONS: OptionSpec = {
  'upscalers': { type: 'string' }, 'upscaler-model': { type: 'string' }, 'upscaler-tile': { type: 'string' },
  'upscaler-tile-overlap': { type: 'string' },
}

/**
 * Runs `run` with the refiner of --refiner FILE (A1111 refiner_checkpoint; --refiner-switch-at, default 0.8 as A1111's
 * refiner_switch_at), loaded for the run and released after it; without --refiner, `run(undefined)`.
 */
export async function withRefiner<T>(ctx: CommandContext, run: (refiner: RefinerOptions | undefined) => Promise<T>): Promise<T> {
  const file = str(ctx, 'refiner')
  const at = num(ctx, 'refiner-switch-at', false)
  if (!file) {
    if (at !== undefined) throw new InputError('--refiner-switch-at needs --refiner FILE')
    return run(undefined)
  }
  const switchAt = checkSwitchAt(at ?? 0.8)
  const model = await loadModel(file)
  try {
    return await run({ model, switchAt, hash: (await hashFile(file, ['autov2'])).autov2 })
  } finally {
    await model.release()
  }
}

export const REFINER_HELP = [
  '  --refiner FILE       A1111 refiner: this checkpoint takes over at --refiner-switch-at (any family; with hires fix,',
  '                       in the second pass only, as A1111\'s default)',
  '  --refiner-switch-at X  fraction of the noise schedule done when it takes over (0.8)',
]

export const REFINER_OPTIONS: OptionSpec = { 'refiner': { type: 'string' }, 'refiner-switch-at': { type: 'string' } }

export const VARIATION_HELP = [
  '  --subseed N          A1111 variation seed (-1: random); used with --subseed-strength',
  '  --subseed-strength X variation strength in [0, 1] (0 = off); every image keeps the seed, image i gets subseed + i',
  '  --seed-resize-from WxH  draw the noise at this size and centre it (A1111 "Resize seed from")',
]

export const HIRES_HELP = [
  '  --hires-scale X      hires fix: second pass at X times the size (2 when any --hires-* flag is given)',
  '  --hires-resize WxH   hires fix: second pass at this size instead (0 for one side keeps the aspect ratio)',
  '  --hires-upscaler NAME  Latent (default), "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",',
  '                       "Latent (nearest)", "Latent (nearest-exact)", Lanczos, Nearest, or a network upscaler',
  '                       (--upscalers / --upscaler-model: ESRGAN_4x, "R-ESRGAN 4x+", 4x-UltraSharp, …)',
  '  --hires-steps N      second-pass steps (0 = the first pass\'s)',
  '  --hires-denoise X    second-pass denoising strength (0.7)',
  '  --hires-prompt TEXT  second-pass prompt (A1111 "Hires prompt"; default: the prompt)',
  '  --hires-negative TEXT  second-pass negative prompt (default: the negative prompt)',
  '  --hires-sampler NAME second-pass sampler (default: --sampler)',
  '  --hires-schedule NAME  second-pass schedule type (default: --scheduler)',
  '  --hires-cfg X        second-pass CFG scale (default: --cfg)',
  ...UPSCALER_HELP,
]

export const VARIATION_OPTIONS: OptionSpec = {
  'subseed': { type: 'string' }, 'subseed-strength': { type: 'string' }, 'seed-resize-from': { type: 'string' },
}

export const HIRES_OPTIONS: OptionSpec = {
  'hires-scale': { type: 'string' }, 'hires-resize': { type: 'string' }, 'hires-upscaler': { type: 'string' },
  'hires-steps': { type: 'string' }, 'hires-denoise': { type: 'string' }, 'hires-prompt': { type: 'string' },
  'hires-negative': { type: 'string' }, 'hires-sampler': { type: 'string' }, 'hires-schedule': { type: 'string' },
  'hires-cfg': { type: 'string' }, ...UPSCALER_OPTIONS,
}

/** A1111's Settings → Sampler parameters as flags (absent: A1111's defaults; the infotext records the others). */
export function samplerParamsOf(ctx: CommandContext): SamplerParams {
  return {
    eta: num(ctx, 'eta', false), sNoise: num(ctx, 's-noise', false), sigmaMin: num(ctx, 'sigma-min', false),
    sigmaMax: num(ctx, 'sigma-max', false), rho: num(ctx, 'rho', false), sChurn: num(ctx, 's-churn', false),
    sTmin: num(ctx, 's-tmin', false), sTmax: num(ctx, 's-tmax', false), sMinUncond: num(ctx, 's-min-uncond', false),
    skipEarlyCond: num(ctx, 'skip-early-cond', false),
  }
}

export const SAMPLER_PARAMS_HELP = [
  '  --s-churn X --s-tmin X --s-tmax X  Karras churn for Euler, Heun, DPM2 (0, 0, 0 = inf)',
  '  --s-min-uncond X     A1111 "NGMS": skip the negative prompt on every second step once sigma < X (0 = off)',
  '  --skip-early-cond X  A1111 "Skip Early CFG": ignore the negative prompt over the first fraction X of steps (0 = off)',
]

export const SAMPLER_PARAMS_OPTIONS: OptionSpec = {
  's-churn': { type: 'string' }, 's-tmin': { type: 'string' }, 's-tmax': { type: 'string' },
  's-min-uncond': { type: 'string' }, 'skip-early-cond': { type: 'string' },
}
