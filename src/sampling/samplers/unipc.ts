/**
 * UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion
 * Models", arXiv 2302.04867): a multistep data-prediction solver over the VP schedule's half-log-SNR λ whose
 * predictor UniP and corrector UniC share each model call. As A1111 1.10 runs it (modules/models/diffusion/uni_pc/
 * uni_pc.py, sd_samplers_timesteps_impl.py unipc with its default options): variant bh1 (B(h) = h), skip type
 * time_uniform, order 3, lower_order_final, no thresholding, `steps` model calls at times linspace(1, 1/1000) of a
 * continuous schedule that interpolates log √ᾱ linearly (NoiseScheduleVP 'discrete'); the UNet sees
 * (t − 1/1000)·1000. One callback per step with x after it. float32 like torch; the small linear systems in float64.
 */
import { InputError } from '../../core/errors.ts'
import { fr, torchLinspace } from '../torch-f32.ts'
import type { TimestepSampler } from './timestep.ts'

const ORDER = 3

/** NoiseScheduleVP('discrete'): log α(t) piecewise linear through (i/N, ½·log ᾱ_{i−1}), extended linearly at the ends. */
export function vpSchedule(alphasCumprod: Float32Array) {
  const n = alphasCumprod.length
  const ts = torchLinspace(0, 1, n + 1).subarray(1)
  const logAlphas = Float64Array.from(alphasCumprod, (a) => fr(0.5 * fr(Math.log(a))))
  const logMeanCoeff = (t: number): number => {
    let j = 0
    while (j < n && ts[j] < t) j++
    const s = j === 0 ? 0 : j === n ? n - 2 : j - 1
    const [x0, x1, y0, y1] = [ts[s], ts[s + 1], logAlphas[s], logAlphas[s + 1]]
    return fr(y0 + fr(fr(fr(t - x0) * fr(y1 - y0)) / fr(x1 - x0)))
  }
  const alpha = (t: number) => fr(Math.exp(logMeanCoeff(t)))
  const std = (t: number) => fr(Math.sqrt(fr(1 - fr(Math.exp(fr(2 * logMeanCoeff(t)))))))
  const lambda = (t: number) => {
    const l = logMeanCoeff(t)
    return fr(l - fr(0.5 * fr(Math.log(fr(1 - fr(Math.exp(fr(2 * l))))))))
  }
  return { total: n, alpha, std, lambda }
}

/** Solve A·x = b (small, Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length
  const m = a.map((row, i) => [...row.slice(0, n), b[i]])
  for (let c = 0; c < n; c++) {
    const p = m.slice(c).reduce((best, row, k) => (Math.abs(row[c]) > Math.abs(m[best][c]) ? c + k : best), c)
    ;[m[c], m[p]] = [m[p], m[c]]
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c]
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k]
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) x[r] = (m[r][n] - m.slice(r + 1, n).reduce((s, row, k) => s + m[r][r + 1 + k] * x[r + 1 + k], 0)) / m[r][r]
  return x.map(fr)
}

/** The bh1 coefficients of an update of `order` with ratios rks (last 1): rhos for the predictor and the corrector. */
function bhCoefficients(rks: number[], hh: number, order: number): { rhosP: number[]; rhosC: number[]; hPhi1: number } {
  const hPhi1 = fr(Math.expm1(hh))
  let hPhiK = fr(fr(hPhi1 / hh) - 1)
  let factorial = 1
  const r: number[][] = []
  const b: number[] = []
  for (let i = 1; i <= order; i++) {
    r.push(rks.map((v) => fr(v ** (i - 1))))
    b.push(fr(fr(hPhiK * factorial) / hh))
    factorial *= i + 1
    hPhiK = fr(fr(hPhiK / hh) - fr(1 / factorial))
  }
  const rhosP = order === 2 ? [0.5] : order > 2 ? solve(r.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1)) : []
  const rhosC = order === 1 ? [0.5] : solve(r, b)
  return { rhosP, rhosC, hPhi1 }
}

/** Σ_k rhos[k]·D1s[k] + extra, float32. */
function weighted(rhos: number[], d1s: Float32Array[], k: number): number {
  let acc = 0
  for (let j = 0; j < d1s.length; j++) acc = fr(acc + fr(rhos[j] * d1s[j][k]))
  return acc
}

export const sampleUniPc: TimestepSampler = async (model, x, run) => {
  const steps = run.timesteps.length
  if (steps < ORDER) throw new InputError(`UniPC runs order ${ORDER} and needs at least ${ORDER} steps, got ${steps}. Hint: use ${ORDER} or more steps.`)
  const ns = vpSchedule(run.alphasCumprod)
  const times = torchLinspace(1, 1 / ns.total, steps + 1)
  const modelTime = (t: number) => fr(fr(t - fr(1 / ns.total)) * 1000)
  const dataPrediction = async (xt: Float32Array, t: number): Promise<Float32Array> => {
    const { eps } = await model(xt, modelTime(t))
    const [a, s] = [ns.alpha(t), ns.std(t)]
    return xt.map((v, k) => fr(fr(v - fr(s * eps[k])) / a))
  }
  const prevT = [times[0]]
  const prevModel = [await dataPrediction(x, times[0])]
  for (let step = 1; step <= steps; step++) {
    run.signal?.throwIfAborted()
    const t = times[step]
    const order = step < ORDER ? step : Math.min(ORDER, steps + 1 - step)
    const last = step === steps
    const { x: next, modelT } = await uniPcUpdate({ x, prevT, prevModel, t, order, corrector: !last, ns, dataPrediction })
    x = next
    run.callback?.({ i: step - 1, steps, sigma: 0, sigmaHat: 0, x, denoised: modelT ?? prevModel[prevModel.length - 1] })
    prevT.push(t)
    if (modelT) prevModel.push(modelT)
    if (prevT.length > ORDER) { prevT.shift(); prevModel.shift() }
  }
  return x
}

interface UpdateInput {
  readonly x: Float32Array
  readonly prevT: readonly number[]
  readonly prevModel: readonly Float32Array[]
  readonly t: number
  readonly order: number
  readonly corrector: boolean
  readonly ns: ReturnType<typeof vpSchedule>
  readonly dataPrediction: (x: Float32Array, t: number) => Promise<Float32Array>
}

/** One UniPC-bh1 step from the latest time to t: predictor (UniP), then, with a model call at t, corrector (UniC). */
async function uniPcUpdate(u: UpdateInput): Promise<{ x: Float32Array; modelT?: Float32Array }> {
  const { ns, order } = u
  const tPrev0 = u.prevT[u.prevT.length - 1]
  const m0 = u.prevModel[u.prevModel.length - 1]
  const h = fr(ns.lambda(u.t) - ns.lambda(tPrev0))
  const rks: number[] = []
  const d1s: Float32Array[] = []
  for (let i = 1; i < order; i++) {
    const mi = u.prevModel[u.prevModel.length - 1 - i]
    const rk = fr(fr(ns.lambda(u.prevT[u.prevT.length - 1 - i]) - ns.lambda(tPrev0)) / h)
    rks.push(rk)
    d1s.push(mi.map((v, k) => fr(fr(v - m0[k]) / rk)))
  }
  rks.push(1)
  const hh = fr(-h)
  const { rhosP, rhosC, hPhi1 } = bhCoefficients(rks, hh, order)
  const alphaT = ns.alpha(u.t)
  const [ratio, c0, cB] = [fr(ns.std(u.t) / ns.std(tPrev0)), fr(alphaT * hPhi1), fr(alphaT * hh)]
  const base = u.x.map((v, k) => fr(fr(ratio * v) - fr(c0 * m0[k])))
  const predicted = d1s.length ? base.map((v, k) => fr(v - fr(cB * weighted(rhosP, d1s, k)))) : Float32Array.from(base)
  if (!u.corrector) return { x: predicted }
  const modelT = await u.dataPrediction(predicted, u.t)
  const last = rhosC[rhosC.length - 1]
  const corrected = base.map((v, k) => fr(v - fr(cB * fr(weighted(rhosC, d1s, k) + fr(last * fr(modelT[k] - m0[k]))))))
  return { x: corrected, modelT }
}
