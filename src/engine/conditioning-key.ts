/*
 * What a cached conditioning depends on besides the prompt: the text-encoder weights the LoRAs patched in and the
 * embedding vectors the prompt may use. Names are not enough: a LoRA or an embedding file replaced on disk under the
 * same name must not reuse the old conditioning. So each LoRA counts by the file version the adapters loaded (path,
 * size and mtime, as pipeline/adapters.ts reloads it) and each embedding by a digest of its vectors.
 */
import { createHash } from 'node:crypto'
import type { PreparedAdapters } from '../pipeline/adapters.ts'
import type { LoadedModel } from '../pipeline/load-model.ts'

/** Digests of vector rows by their bytes' place (a rescanned folder gives new arrays, so a stale entry is never hit). */
const rowDigests = new WeakMap<ArrayBufferLike, Map<string, string>>()

function rowDigest(row: Float32Array): string {
  let byPlace = rowDigests.get(row.buffer)
  if (!byPlace) { byPlace = new Map(); rowDigests.set(row.buffer, byPlace) }
  const place = `${row.byteOffset}:${row.length}`
  let d = byPlace.get(place)
  if (d === undefined) {
    d = createHash('sha1').update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength)).digest('hex')
    byPlace.set(place, d)
  }
  return d
}

function embeddingDigest(prepared: PreparedAdapters, name: string, arch: LoadedModel['arch']): string {
  const rows = [...prepared.embeddings.vectors(name, 'te1'), ...(arch === 'sdxl' ? prepared.embeddings.vectors(name, 'te2') : [])]
  return createHash('sha1').update(rows.map(rowDigest).join()).digest('hex')
}

/**
 * The LoRAs and embeddings as a JSON-able key part: each LoRA file version the adapters hold (this request's, read
 * after prepareAdapters ran in the same queue job) and each LoRA's text-encoder weight; each embedding's name and
 * vector digest.
 */
export function adapterIdentity(model: LoadedModel, prepared: PreparedAdapters): { loraFiles: string[]; loras: string[][]; embeddings: string[][] } {
  const loraFiles = [...model.adapterState.files].map(([file, v]) => `${file}\t${v.size}\t${v.mtimeMs}`).sort()
  const loras = prepared.report.loras.map((l) => [l.file, String(l.te)])
  const { loaded, bundled } = prepared.report.embeddings
  return { loraFiles, loras, embeddings: [...loaded, ...bundled].map((name) => [name, embeddingDigest(prepared, name, model.arch)]) }
}
