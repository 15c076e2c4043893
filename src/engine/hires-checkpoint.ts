/*
 * A1111 1.6+'s hires checkpoint (hr_checkpoint_name): hires fix's second pass on another checkpoint. It is loaded
 * for this request only, with the engine's own loader, as the refiner is (a cached one would need its own model's
 * queue while this job holds the base's). The request's LoRAs are merged into its private copy and its embeddings
 * are looked up for its own text encoders, as A1111 activates the extra networks again on the switched model
 * (sample_hr_pass). A checkpoint of another family is refused: its latents (SDXL) or text encoders (SD2) do not fit
 * the first pass's. The infotext's "Hires checkpoint" is A1111's short_title: file name without extension [AutoV2].
 */
import { realpath } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { InputError } from '../core/errors.ts'
import { prepareAdapters, type LoraRequest } from '../pipeline/adapters.ts'
import type { PromptEmbeddings } from '../pipeline/conditioning.ts'
import { checkpointArchOfFile, type LoadedModel } from '../pipeline/load-model.ts'
import type { SecondModel } from '../pipeline/run-batches.ts'
import { ensureVaeEncoder } from '../pipeline/vae-encoder-weights.ts'
import type { ClipTokenizer } from '../prompt/index.ts'
import { hashFile } from '../tools/hash.ts'
import type { ModelResolver } from './contract.ts'

export interface HiresCheckpointDeps {
  readonly resolver: ModelResolver
  readonly tokenizer: ClipTokenizer
  readonly hashCache: boolean
  readonly load: (file: string) => Promise<LoadedModel>
}

export interface HiresCheckpoint {
  /** "Hires checkpoint" in the infotext (written even when it is the first pass's own file, as A1111 does). */
  readonly title: string
  /** The loaded model; absent when it is the first pass's own file (nothing to switch). */
  readonly hires?: SecondModel
}

export interface HiresCheckpointRequest {
  readonly name: string
  readonly loras: readonly LoraRequest[]
  readonly strict: boolean
  /** A pixel-space upscaler: the hires checkpoint encodes the upscaled picture. */
  readonly needsEncoder: boolean
}

/**
 * The request's LoRAs merged into a second model's private copy (it is released after the request) and its
 * embeddings looked up for that model's text encoders. The first model's adapters already reported on these files,
 * so their notes are not repeated.
 */
export async function requestAdaptersOn(model: LoadedModel, loras: readonly LoraRequest[], strict: boolean, deps: HiresCheckpointDeps): Promise<PromptEmbeddings> {
  const prepared = await prepareAdapters(model, {
    loras, embeddingsDir: await deps.resolver.embeddingsDir(), strict, tokenizer: deps.tokenizer, mode: 'merge', oneShot: true, hashCache: deps.hashCache,
  }, () => undefined)
  return prepared.embeddings
}

export async function loadHiresCheckpoint(base: LoadedModel, req: HiresCheckpointRequest, deps: HiresCheckpointDeps): Promise<HiresCheckpoint> {
  const file = await deps.resolver.checkpoint(req.name)
  const title = `${basename(file, extname(file))} [${(await hashFile(file, ['autov2'], { cache: deps.hashCache })).autov2}]`
  if (await realpath(file) === await realpath(base.file)) return { title }
  // from the header, before a multi-gigabyte load
  const arch = await checkpointArchOfFile(file)
  if (arch !== base.arch) {
    throw new InputError([{ code: 'mismatch', path: ['hires', 'checkpoint'],
      message: `hires checkpoint ${basename(file)} is ${arch.toUpperCase()}, the first pass ran ${base.arch.toUpperCase()}: pick a checkpoint of the same family` }])
  }
  const model = await deps.load(file)
  try {
    const embeddings = await requestAdaptersOn(model, req.loras, req.strict, deps)
    if (req.needsEncoder) await ensureVaeEncoder(model)
    return { title, hires: { model, embeddings } }
  } catch (e) {
    await model.release()
    throw e
  }
}
