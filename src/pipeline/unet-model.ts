/*
 * The UNet as the sampler's ModelFn, with each CFG row's conditioning, as A1111 1.8's CFGDenoiser.forward feeds it
 * (modules/sd_samplers_cfg_denoiser.py @ c8a5322d, batch_cond_uncond on, pad_cond_uncond off):
 *  - the conditioning is looked up at CFGDenoiser.step, which counts denoiser calls (Heun makes two per step);
 *  - cond rows (all AND-parts of all images) are stacked to their longest token length by repeating each one's last
 *    token vector (prompt_parser.stack_conds);
 *  - when that length equals the negative prompt's, cond and uncond rows go through the UNet in ONE call;
 *    otherwise the cond rows run in one call and the uncond rows in another.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import type { UnetSession } from '../models/unet/index.ts'
import type { BatchRow, ModelFn } from '../sampling/index.ts'
import type { WeightSource } from '../graph/session.ts'
import type { Cond, PromptConditioning } from './conditioning.ts'

export interface UnetModelOptions {
  readonly unet: UnetSession
  readonly weights: WeightSource
  readonly conditioning: PromptConditioning
  /** Per-image latent shape [C, h, w]. */
  readonly latentShape: readonly [number, number, number]
  /**
   * Inpainting UNets (9 input channels): each image's c_concat [K, h, w] (mask + masked-picture latent, K = 5),
   * appended to every CFG row of that image unscaled, as ldm's hybrid DiffusionWrapper does (cat([x·c_in, c_concat])).
   */
  readonly imageConditioning?: { readonly channels: number; readonly data: Float32Array }
  /** The prompt schedule's step at the first call (a refiner taking over mid-run continues the count). */
  readonly firstStep?: number
}

/** A fresh ModelFn whose step counter starts at 0 (make one per sampling run). */
export function unetModel(opts: UnetModelOptions): ModelFn {
  let calls = opts.firstStep ?? 0
  return async (xIn, t, { rows }) => {
    const step = calls++
    const conds = opts.conditioning.condAt(step)
    const uncond = opts.conditioning.uncondAt(step)
    const condOf = (r: BatchRow): Cond => (r.kind === 'cond' ? conds[r.part] : uncond)
    const condIdx = rows.flatMap((r, k) => (r.kind === 'cond' ? [k] : []))
    const uncondIdx = rows.flatMap((r, k) => (r.kind === 'uncond' ? [k] : []))
    const condTokens = Math.max(0, ...condIdx.map((k) => condOf(rows[k]).tokens))
    const groups = uncondIdx.length === 0 || condIdx.length === 0 || condTokens === uncond.tokens
      ? [rows.map((_, k) => k)] : [condIdx, uncondIdx]
    const per = xIn.length / rows.length
    const out = new Float32Array(xIn.length)
    for (const group of groups) {
      const result = await runRows(opts, { xIn, t, per, rows: group, images: group.map((k) => rows[k].image), conds: group.map((k) => condOf(rows[k])) })
      group.forEach((k, i) => out.set(result.subarray(i * per, (i + 1) * per), k * per))
    }
    return out
  }
}

interface RowCall {
  readonly xIn: Float32Array
  readonly t: number
  readonly per: number
  readonly rows: readonly number[]
  /** The image each row belongs to. */
  readonly images: readonly number[]
  readonly conds: readonly Cond[]
}

async function runRows(opts: UnetModelOptions, call: RowCall): Promise<Float32Array> {
  const b = call.rows.length
  const [c, h, w] = opts.latentShape
  const ic = opts.imageConditioning
  const extra = ic ? ic.channels * h * w : 0
  const x = new Float32Array(b * (call.per + extra))
  call.rows.forEach((k, i) => {
    x.set(call.xIn.subarray(k * call.per, (k + 1) * call.per), i * (call.per + extra))
    if (ic) x.set(ic.data.subarray(call.images[i] * extra, (call.images[i] + 1) * extra), i * (call.per + extra) + call.per)
  })
  const vectors = call.conds[0].vector
  const out = await opts.unet.run({
    x: { shape: [b, c + (ic?.channels ?? 0), h, w], data: x },
    t: { shape: [b], data: new Float32Array(b).fill(call.t) },
    context: stackContexts(call.conds),
    ...(vectors ? { y: stackVectors(call.conds) } : {}),
  }, opts.weights)
  return out.data
}

/** [B, T, C] with T the longest; shorter rows repeat their last token vector (A1111 stack_conds). */
export function stackContexts(conds: readonly Cond[]): HostTensor {
  const tokens = Math.max(...conds.map((c) => c.tokens))
  const dim = conds[0].dim
  const data = new Float32Array(conds.length * tokens * dim)
  conds.forEach((c, i) => {
    const base = i * tokens * dim
    data.set(c.context, base)
    const last = c.context.subarray((c.tokens - 1) * dim, c.tokens * dim)
    for (let r = c.tokens; r < tokens; r++) data.set(last, base + r * dim)
  })
  return { shape: [conds.length, tokens, dim], data }
}

function stackVectors(conds: readonly Cond[]): HostTensor {
  const n = (conds[0].vector as Float32Array).length
  const data = new Float32Array(conds.length * n)
  conds.forEach((c, i) => data.set(c.vector as Float32Array, i * n))
  return { shape: [conds.length, n], data }
}
