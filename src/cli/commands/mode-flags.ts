/*
 * Flags shared by `generate` and `img2img` for A1111's variation seeds and hires fix: parsing, help lines, option specs.
 */
import { InputError } from '../../core/errors.ts'
import type { HiresOptions } from '../../pipeline/hires.ts'
import type { SamplerParams } from '../../sampling/index.ts'
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
  const upscaler = str(ctx, 'hires-upscaler')
  const steps = num(ctx, 'hires-steps')
  const denoisingStrength = num(ctx, 'hires-denoise', false)
  if ([scale, resize, upscaler, steps, denoisingStrength].every((v) => v === undefined)) return undefined
  return { scale, resize, upscaler, steps, denoisingStrength }
}

export const VARIATION_HELP = [
  '  --subseed N          A1111 variation seed (-1: random); used with --subseed-strength',
  '  --subseed-strength X variation strength in [0, 1] (0 = off); every image keeps the seed, image i gets subseed + i',
  '  --seed-resize-from WxH  draw the noise at this size and centre it (A1111 "Resize seed from")',
]

export const HIRES_HELP = [
  '  --hires-scale X      hires fix: second pass at X times the size (2 when any --hires-* flag is given)',
  '  --hires-resize WxH   hires fix: second pass at this size instead (0 for one side keeps the aspect ratio)',
  '  --hires-upscaler NAME  Latent (default), "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",',
  '                       "Latent (nearest)", "Latent (nearest-exact)", Lanczos, Nearest',
  '  --hires-steps N      second-pass steps (0 = the first pass\'s)',
  '  --hires-denoise X    second-pass denoising strength (0.7)',
]

export const VARIATION_OPTIONS: OptionSpec = {
  'subseed': { type: 'string' }, 'subseed-strength': { type: 'string' }, 'seed-resize-from': { type: 'string' },
}

export const HIRES_OPTIONS: OptionSpec = {
  'hires-scale': { type: 'string' }, 'hires-resize': { type: 'string' }, 'hires-upscaler': { type: 'string' },
  'hires-steps': { type: 'string' }, 'hires-denoise': { type: 'string' },
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
