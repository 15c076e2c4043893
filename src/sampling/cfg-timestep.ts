/*
 * CFG for the timestep samplers (A1111 1.10 CFGDenoiserTimesteps over CompVisTimestepsDenoiser /
 * CompVisTimestepsVDenoiser): one batched model call at an integer timestep on the raw x_t rows, the rows combined
 * as cfg.ts does, in eps space; v models' output turned into eps = √ᾱ·v + √(1−ᾱ)·x_t. The unconditional eps is
 * returned too (DDIM CFG++ steers with it).
 */
import { cfgRows, combineCfg, condOnly, gatherRows, uncondSkipper } from './cfg.ts'
import type { CfgSpec } from './cfg.ts'
import type { ModelFn, Parameterization } from './denoiser.ts'
import type { EpsModel } from './samplers/timestep.ts'

export interface EpsModelOptions {
  readonly model: ModelFn
  readonly cfg: CfgSpec
  readonly alphasCumprod: Float32Array
  readonly parameterization: Parameterization
}

export function cfgEpsModel(opts: EpsModelOptions): EpsModel {
  const { model, cfg, alphasCumprod, parameterization } = opts
  const fast = cfgRows(cfg)
  const full = cfgRows(cfg, { keepUncond: true })
  const images = cfg.weights.length
  const skipped = cfgRows(condOnly(cfg))
  const skips = uncondSkipper(cfg.uncondSkip)
  return async (x, t, call) => {
    // CFG++ rescales CFG and steers with the uncond eps, so it always needs the uncond rows
    const skip = skips(t) && call?.cfgScaleFactor === undefined
    const rows = skip ? skipped : call?.cfgScaleFactor === undefined ? fast : full
    const per = x.length / images
    const a = alphaAt(alphasCumprod, t)
    const xRows = gatherRows(x, rows, per)
    const out = await model(xRows, t, { rows, sigma: Math.sqrt((1 - a) / a) })
    if (parameterization === 'v') {
      const [sa, sb] = [Math.sqrt(a), Math.sqrt(1 - a)]
      for (let i = 0; i < out.length; i++) out[i] = sa * out[i] + sb * xRows[i]
    }
    const scale = skip ? 1 : cfg.scale * (call?.cfgScaleFactor ?? 1)
    const eps = combineCfg(out, rows, { ...cfg, scale }, per)
    const firstUncond = rows.findIndex((r) => r.kind === 'uncond')
    const uncond = firstUncond < 0 ? eps : Float32Array.from(out.subarray(firstUncond * per))
    return { eps, uncond }
  }
}

/** ᾱ at a model timestep; between integers (UniPC) log ᾱ is interpolated linearly, as its VP schedule does. */
export function alphaAt(alphasCumprod: Float32Array, t: number): number {
  const lo = Math.floor(t)
  if (lo === t) return alphasCumprod[t]
  const hi = Math.min(lo + 1, alphasCumprod.length - 1)
  return Math.exp(Math.log(alphasCumprod[lo]) + (t - lo) * (Math.log(alphasCumprod[hi]) - Math.log(alphasCumprod[lo])))
}
