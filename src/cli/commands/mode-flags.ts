/*
 * Flags shared by `generate` and `img2img` for A1111's variation seeds, hires fix and refiner: parsing, help lines,
 * option specs, and the resolver that turns the command line's files into what the Engine's request names.
 */
import { basename, extname } from 'node:path'
import { InputError } from '../../core/errors.ts'
import type { HiresOptions } from '../../pipeline/hires.ts'
import type { SamplerParams } from '../../sampling/index.ts'
import type { TileOptions } from '../../image/upscale-tiles.ts'
import { checkSwitchAt } from '../../pipeline/refiner.ts'
import { findUpscalerModels, type UpscalerModelFile } from '../../pipeline/model-upscalers.ts'
import { parseLoraFlag } from '../../pipeline/extra-networks-resolve.ts'
import type { HiresFix, ModelResolver } from '../../engine/contract.ts'
import { fileResolver } from '../../engine/file-resolver.ts'
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

/** An object without its undefined fields (a request is data: a field is absent, never undefined). */
export const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

/** The hires flags as the request's HiresFix (--hires-resize flat, the network upscalers' tile settings). */
export function hiresFixOf(ctx: CommandContext): HiresFix | undefined {
  const h = hiresOf(ctx)
  const checkpoint = str(ctx, 'hires-checkpoint')
  if (!h) {
    if (checkpoint !== undefined) throw new InputError('--hires-checkpoint runs the hires pass: add --hires-scale X or --hires-resize WxH')
    return undefined
  }
  const { resize, ...rest } = h
  const tiles = tileOptionsOf(ctx)
  return defined({
    ...rest, resizeWidth: resize?.width, resizeHeight: resize?.height, upscalerTile: tiles.tileSize, upscalerTileOverlap: tiles.tileOverlap, checkpoint,
  })
}

/**
 * The command line's resolver: checkpoints and VAEs are paths, `--lora FILE` files are themselves, `<lora:NAME>` is
 * looked up in --loras DIR, network upscalers by name among --upscaler-model and --upscalers DIR.
 */
export async function cliResolver(ctx: CommandContext): Promise<ModelResolver> {
  const files = fileResolver({ lorasDir: str(ctx, 'loras'), embeddingsDir: str(ctx, 'embeddings') })
  const loraValues = ctx.values.lora
  const flagged = new Set((Array.isArray(loraValues) ? loraValues : loraValues === undefined ? [] : [loraValues]).map((v) => parseLoraFlag(String(v)).file))
  let upscalers: Promise<UpscalerModelFile[]> | undefined
  return {
    ...files,
    lora: (name) => (flagged.has(name) ? Promise.resolve(name) : files.lora(name)),
    async upscaler(name) {
      upscalers ??= upscalerModelsOf(ctx)
      return (await upscalers).find((m) => m.name === name)?.file
    },
  }
}

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

/** --refiner FILE and --refiner-switch-at X (A1111 refiner_checkpoint / refiner_switch_at, default 0.8), checked. */
export function refinerOf(ctx: CommandContext): { refiner?: string; refinerSwitchAt?: number } {
  const file = str(ctx, 'refiner')
  const at = num(ctx, 'refiner-switch-at', false)
  if (!file) {
    if (at !== undefined) throw new InputError('--refiner-switch-at needs --refiner FILE')
    return {}
  }
  return { refiner: file, refinerSwitchAt: checkSwitchAt(at ?? 0.8) }
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
  '  --hires-checkpoint FILE  second pass on this checkpoint (A1111 "Hires checkpoint"; same family; LoRAs apply to it too)',
  ...UPSCALER_HELP,
]

export const VARIATION_OPTIONS: OptionSpec = {
  'subseed': { type: 'string' }, 'subseed-strength': { type: 'string' }, 'seed-resize-from': { type: 'string' },
}

export const HIRES_OPTIONS: OptionSpec = {
  'hires-scale': { type: 'string' }, 'hires-resize': { type: 'string' }, 'hires-upscaler': { type: 'string' },
  'hires-steps': { type: 'string' }, 'hires-denoise': { type: 'string' }, 'hires-prompt': { type: 'string' },
  'hires-negative': { type: 'string' }, 'hires-sampler': { type: 'string' }, 'hires-schedule': { type: 'string' },
  'hires-cfg': { type: 'string' }, 'hires-checkpoint': { type: 'string' }, ...UPSCALER_OPTIONS,
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
