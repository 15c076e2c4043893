/*
 * The infotext fields of a finished image, as A1111 1.8 writes them (processing.py create_infotext @ c8a5322d):
 * the request as resolved, the model and VAE names with the caller's AutoV2 hashes, and the adapters' hashes.
 */
import { basename, extname } from 'node:path'
import { INFOTEXT_VERSION, type GenerationInfo } from '../image/infotext.ts'
import { samplerInfotext, scheduleTypeLabel } from '../sampling/index.ts'
import { INPAINT_CHANNELS, type LoadedModel } from './load-model.ts'
import type { GenerationParams, ResolvedRequest } from './request.ts'

/** AutoV2 hashes for the infotext (the caller computes them through its hash store). */
export interface InfoHashes {
  readonly modelHash?: string
  readonly vaeHash?: string
}

/** The infotext of image `index` of the run (its seed, and its variation seed when there is one). */
export function generationInfo(model: LoadedModel, req: GenerationParams, r: ResolvedRequest, index: number, hashes: InfoHashes): GenerationInfo {
  const rngLabel = ({ gpu: 'GPU', cpu: 'CPU', nv: 'NV' } as const)[r.rng]
  const from = r.seedResizeFrom
  return {
    prompt: req.prompt, negativePrompt: req.negativePrompt, steps: r.steps, sampler: r.sampler.label,
    scheduleType: scheduleTypeLabel(r.sampler, r.scheduler), cfgScale: r.cfgScale, seed: r.seeds[index], width: r.width, height: r.height,
    variationSeed: r.variation?.subseeds[index], variationSeedStrength: r.variation?.strength,
    seedResizeFrom: from ? `${from.width}x${from.height}` : undefined,
    // A1111 writes its inpainting_mask_weight (1.0) whenever an inpainting UNet runs, txt2img included.
    conditionalMaskWeight: model.unetConfig.inChannels === INPAINT_CHANNELS ? '1.0' : undefined,
    modelHash: hashes.modelHash, model: basename(model.file, extname(model.file)),
    vaeHash: model.vaeFile ? hashes.vaeHash : undefined, vae: model.vaeFile ? basename(model.vaeFile) : undefined,
    // A1111 writes "Clip skip" for every family, though only SD1 uses it (the CLI says so when it has no effect)
    clipSkip: r.clipSkip,
    ensd: r.sampler.usesEnsd ? r.ensd : undefined,
    rng: rngLabel,
    extra: model.prediction.source === 'architecture' ? undefined : { Prediction: model.prediction.value },
    loraHashes: req.loraHashes, tiHashes: req.tiHashes,
    samplerFields: samplerInfotext(r.sampler, r.scheduler, r.samplerParams ?? {}, model.alphasCumprod), version: INFOTEXT_VERSION,
  }
}
