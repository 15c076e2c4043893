/**
 * What the library keeps of `inspect`'s report: the few fields a model list shows and filters on, as JSON-safe data
 * (the full report, with a LoRA's per-module structure, stays with `sdloom inspect`). Raw safetensors metadata is
 * kept for LoRAs only (A1111's /sdapi/v1/loras returns it), without the embedded cover images.
 */
import { openTensorFile } from '../formats/open.ts'
import { inspectFile, type ModelReport } from '../tools/inspect.ts'

export interface InspectSummary {
  /** What the file is: checkpoint, unet-only, vae, text-encoder, controlnet, lora, embedding, unknown. */
  readonly detected: string
  readonly format: 'safetensors' | 'pickle'
  /** Base architecture id ("sd15", "sdxl-base", "sd1|sd2" when ambiguous) and its label. */
  readonly arch: string
  readonly archLabel: string
  readonly supported: boolean
  readonly note: string
  /** LoRA family: algorithms (lora, locon, loha, lokr, …) and ranks, most common first. */
  readonly algorithms?: readonly string[]
  readonly ranks?: readonly number[]
  readonly alphas?: readonly number[]
  /** kohya `ss_output_name` (A1111's LoRA alias). */
  readonly outputName?: string
  /** Most frequent training tags (kohya `ss_tag_frequency`). */
  readonly trainingTags?: readonly string[]
  /** Embeddings: vectors per token and the width of each encoder's vectors (768 SD1, 1024 SD2, 768+1280 SDXL). */
  readonly vectors?: number
  readonly dims?: readonly number[]
  /** Raw `__metadata__` (LoRAs only), without `ssmd_cover_images`. */
  readonly metadata?: Readonly<Record<string, string>>
}

export function summarize(r: ModelReport): InspectSummary {
  const base = {
    detected: r.kind, format: r.format, arch: r.architecture.id, archLabel: r.architecture.label,
    supported: r.architecture.supported, note: r.architecture.note,
  }
  if (r.kind === 'lora') {
    const kohya = r.metadata.kohya
    return {
      ...base, algorithms: r.lora.algorithms.map((a) => a.value), ranks: r.lora.ranks.map((x) => x.value), alphas: r.lora.alphas.map((x) => x.value),
      ...(kohya?.outputName ? { outputName: kohya.outputName } : {}), trainingTags: kohya?.topTags.map((t) => t.tag) ?? [],
    }
  }
  if (r.kind === 'embedding') return { ...base, vectors: r.embedding.vectorCount, dims: r.embedding.vectors.map((v) => v.dim.value) }
  return base
}

async function rawMetadata(file: string): Promise<Record<string, string>> {
  const source = await openTensorFile(file)
  try {
    const { ssmd_cover_images: _covers, ...rest } = source.metadata
    return rest
  } finally {
    await source.close()
  }
}

/** Inspects one file; throws what inspect throws (the caller lists the error with the file). */
export async function inspectSummary(file: string): Promise<InspectSummary> {
  const report = await inspectFile(file)
  const summary = summarize(report)
  return summary.detected === 'lora' ? { ...summary, metadata: await rawMetadata(file) } : summary
}
