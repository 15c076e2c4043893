/*
 * A1111's variation seeds and "Resize seed from" as ImageRng options for one batch (processing.py @ c8a5322d:
 * `rng.ImageRNG(shape, seeds, subseeds=…, subseed_strength=…, seed_resize_from_h/w=…)`; the second pass of hires
 * fix makes its ImageRNG with the same options at its own size).
 */
import type { ImageRngOptions } from '../sampling/index.ts'
import type { ResolvedRequest } from './request.ts'

interface BatchAt { readonly batch: number; readonly latentShape: readonly [number, number, number] }

export function variationFor(r: ResolvedRequest, ctx: BatchAt): Pick<ImageRngOptions, 'variation' | 'resizeFrom'> {
  const start = ctx.batch * r.batchSize
  const v = r.variation
  const from = r.seedResizeFrom
  return {
    ...(v ? { variation: { subseeds: v.subseeds.slice(start, start + r.batchSize), strength: v.strength } } : {}),
    // A1111: (C, int(h) // 8, int(w) // 8)
    ...(from ? { resizeFrom: [ctx.latentShape[0], Math.floor(from.height / 8), Math.floor(from.width / 8)] } : {}),
  }
}
