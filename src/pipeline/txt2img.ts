/*
 * txt2img as A1111 1.8 runs it (modules/processing.py process_images_inner @ c8a5322d): the generation core
 * (run-batches.ts) with pure noise as the init latent. Writing files is the caller's (see output-paths.ts); this
 * returns images as they are finished.
 */
import type { LoadedModel } from './load-model.ts'
import { resolveRequest, type GenerationParams, type ResolvedRequest } from './request.ts'
import { NOISE_INIT, runBatches, type BatchProgress, type FinishedImage, type RunOptions } from './run-batches.ts'

export { randomSeed, resolveRequest } from './request.ts'

export type Txt2ImgRequest = GenerationParams
export type Txt2ImgProgress = BatchProgress
export type Txt2ImgOptions = RunOptions
export type Txt2ImgImage = FinishedImage
export type ResolvedTxt2Img = ResolvedRequest

export async function txt2img(model: LoadedModel, req: Txt2ImgRequest, opts: Txt2ImgOptions = {}): Promise<Txt2ImgImage[]> {
  return runBatches(model, { req, r: resolveRequest(model.nativeSize, req), init: NOISE_INIT }, opts)
}
