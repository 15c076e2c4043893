/*
 * The infotext fields of a finished image, as A1111 1.8 writes them (processing.py create_infotext @ c8a5322d):
 * the request as resolved, the model and VAE names with the caller's AutoV2 hashes, and the adapters' hashes.
 */
import { basename, extname } from 'node:path'
import { INFOTEXT_VERSION, type GenerationInfo } from '../image/infotext.ts'
import { scheduleTypeLabel } from '../sampling/index.ts'
import type { LoadedModel } from './load-model.ts'
import type { GenerationParams, ResolvedRequest } from './request.ts'

/** AutoV2 hashes for the infotext (the caller computes them through its hash store). */
export interface InfoHashes {
  readonly modelHash?: string
  readonly vaeHash?: string
}

export function generationInfo(model: LoadedModel, req: GenerationParams, r: ResolvedRequest, seed: number, hashes: InfoHashes): GenerationInfo {
  const rngLabel = ({ gpu: 'GPU', cpu: 'CPU', nv: 'NV' } as const)[r.rng]
  return {
    prompt: req.prompt, negativePrompt: req.negativePrompt, steps: r.steps, sampler: r.sampler.label,
    scheduleType: scheduleTypeLabel(r.sampler, r.scheduler), cfgScale: r.cfgScale, seed, width: r.width, height: r.height,
    modelHash: hashes.modelHash, model: basename(model.file, extname(model.file)),
    vaeHash: model.vaeFile ? hashes.vaeHash : undefined, vae: model.vaeFile ? basename(model.vaeFile) : undefined,
    clipSkip: model.arch === 'sd1' ? r.clipSkip : undefined,
    ensd: r.sampler.usesEnsd ? r.ensd : undefined,
    rng: rngLabel,
    extra: model.prediction.source === 'architecture' ? undefined : { Prediction: model.prediction.value },
    loraHashes: req.loraHashes, tiHashes: req.tiHashes, version: INFOTEXT_VERSION,
  }
}
