/**
 * The `--embeddings DIR` database, as A1111's EmbeddingDatabase fills it (textual_inversion.py `load_from_dir` @
 * c8a5322d): a recursive scan, each embedding named by its file stem, files that fail to load or whose widths do not
 * fit this architecture's text encoder(s) listed as skipped (never an error), the rest registered. Each embedding
 * carries A1111's `shorthash` for the infotext's `TI hashes`: the first 12 hex digits of the SHA-256 of the whole file
 * (`hashes.sha256(filename, "textual_inversion/" + name)`).
 * A scan is cached per folder and widths; it is reused while no file under the folder changed (path, size, mtime).
 * `collectEmbeddings` adds the LoRAs' bundled embeddings (networks.py: skipped when the folder already has the name)
 * and makes the prompt index and the per-encoder vectors the conditioning reads.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { InputError, SdError } from '../core/errors.ts'
import {
  bundledEmbeddings, embeddingMismatch, embeddingWidths, listEmbeddingFiles, loadEmbeddingDir,
  type Embedding, type EmbeddingWidths, type SkippedEmbedding,
} from '../adapters/embedding.ts'
import type { Adapter } from '../adapters/types.ts'
import type { NetworkHash } from '../image/infotext.ts'
import { buildEmbeddingIndex, NO_EMBEDDINGS, type ClipTokenizer } from '../prompt/index.ts'
import type { PromptEmbeddings } from './conditioning.ts'
import type { LoadedModel } from './load-model.ts'

export interface EmbeddingDb {
  readonly dir: string
  /** By name (file stem). */
  readonly loaded: ReadonlyMap<string, Embedding>
  readonly skipped: readonly SkippedEmbedding[]
  /** A1111 shorthash (12 hex) by embedding name. */
  readonly hashes: ReadonlyMap<string, string>
}

interface CacheEntry { readonly signature: string; readonly db: EmbeddingDb }
const cache = new Map<string, CacheEntry>()

/** What a rescan would see: every candidate file with its size and mtime. */
async function folderSignature(dir: string): Promise<string> {
  const rows: string[] = []
  for (const file of await listEmbeddingFiles(dir)) {
    const st = await stat(file)
    rows.push(`${file}\t${st.size}\t${st.mtimeMs}`)
  }
  return rows.join('\n')
}

export const shortSha256 = async (file: string): Promise<string> =>
  createHash('sha256').update(await readFile(file)).digest('hex').slice(0, 12)

/** Scans (or reuses the cached scan of) `dir` for a model whose text encoders have these widths. */
export async function loadEmbeddingDb(dir: string, widths: EmbeddingWidths): Promise<EmbeddingDb> {
  const abs = resolve(dir)
  const st = await stat(abs).catch(() => undefined)
  if (!st) throw new InputError(`--embeddings ${dir}: no such folder`)
  if (!st.isDirectory()) throw new InputError(`--embeddings ${dir}: is a file, expected a folder`)
  const key = `${abs}\t${widths.te1}\t${widths.te2 ?? ''}`
  const signature = await folderSignature(abs)
  const hit = cache.get(key)
  if (hit && hit.signature === signature) return hit.db
  const scan = await loadEmbeddingDir(abs, widths)
  const hashes = new Map<string, string>()
  for (const [name, e] of scan.loaded) hashes.set(name, await shortSha256(e.file))
  const db: EmbeddingDb = { dir: abs, loaded: scan.loaded, skipped: scan.skipped, hashes }
  cache.set(key, { signature, db })
  return db
}

/** Forgets every cached scan (tests; a long-running server after a folder was replaced wholesale). */
export function clearEmbeddingDbCache(): void { cache.clear() }

export interface EmbeddingsReport {
  /** Names registered from the folder. */
  readonly loaded: readonly string[]
  /** Names registered from LoRAs' `bundle_emb.*`. */
  readonly bundled: readonly string[]
  readonly skipped: readonly SkippedEmbedding[]
}

export interface CollectedEmbeddings {
  readonly embeddings: PromptEmbeddings
  readonly report: EmbeddingsReport
  readonly warnings: readonly string[]
  /** Filled as the prompts use folder embeddings (bundled ones have no file of their own to hash). */
  readonly tiHashes: readonly NetworkHash[]
}

export interface CollectOptions {
  readonly model: Pick<LoadedModel, 'arch' | 'weights'>
  /** Needed when there is anything to register (a folder or bundled embeddings). */
  readonly tokenizer?: ClipTokenizer
  readonly dir?: string
  readonly adapters: readonly Adapter[]
}

/** Folder + bundled embeddings that fit the model, as the conditioning's PromptEmbeddings. */
export async function collectEmbeddings(opts: CollectOptions): Promise<CollectedEmbeddings> {
  if (opts.dir === undefined && opts.adapters.every((a) => a.bundledEmbeddings.size === 0)) return NONE
  if (!opts.tokenizer) throw new SdError('collectEmbeddings: embeddings to register but no tokenizer was given')
  const widths = embeddingWidths({ has: (k) => opts.model.weights.has(k), shape: (k) => opts.model.weights.shape(k), get: (k) => opts.model.weights.getBase(k) }, opts.model.arch)
  const db = opts.dir === undefined ? undefined : await loadEmbeddingDb(opts.dir, widths)
  // A1111 tokenizes names with the first text encoder's tokenizer: open_clip's for SD2, CLIP-L's for SD1 and SDXL.
  const tokenizer = opts.tokenizer.withFlavor(opts.model.arch === 'sd2' ? 'open-clip' : 'clip')
  const all = new Map(db?.loaded ?? [])
  const skipped: SkippedEmbedding[] = [...(db?.skipped ?? [])]
  const bundled: string[] = []
  for (const adapter of opts.adapters) {
    for (const e of bundledEmbeddings(adapter)) {
      const problem = all.has(e.name) ? `the name is already taken by ${all.get(e.name)!.file}` : embeddingMismatch(e, widths)
      if (problem) { skipped.push({ name: e.name, file: e.file, reason: problem }); continue }
      all.set(e.name, e)
      bundled.push(e.name)
    }
  }
  for (const [name] of all) {
    if (tokenizer.encode(name).length > 0) continue
    skipped.push({ name, file: all.get(name)!.file, reason: 'its name gives no tokens, so no prompt can use it' })
    all.delete(name)
  }
  const tiHashes: NetworkHash[] = []
  const rows = new Map([...all].map(([name, e]) => [name, { te1: rowsOf(e.vectors.te1), te2: e.vectors.te2 && rowsOf(e.vectors.te2) }]))
  const embeddings: PromptEmbeddings = {
    index: all.size === 0 ? NO_EMBEDDINGS : buildEmbeddingIndex(tokenizer, [...all.values()].map((e) => ({ name: e.name, vectors: e.count }))),
    vectors(name, encoder) {
      const r = rows.get(name)?.[encoder]
      if (!r) throw new InputError(`embedding "${name}" has no vectors for text encoder ${encoder}`)
      return r
    },
    used(name) {
      const hash = db?.hashes.get(name)
      if (hash && all.get(name) === db?.loaded.get(name) && !tiHashes.some((h) => h.name === name)) tiHashes.push({ name, hash })
    },
  }
  return {
    embeddings, tiHashes,
    report: { loaded: [...(db?.loaded.keys() ?? [])].filter((n) => all.has(n)), bundled, skipped },
    warnings: skipped.map((s) => `embedding "${s.name}" (${s.file}) skipped: ${s.reason}`),
  }
}

const NONE: CollectedEmbeddings = {
  embeddings: { index: NO_EMBEDDINGS, vectors: (name) => { throw new InputError(`no embedding named "${name}" is loaded`) } },
  report: { loaded: [], bundled: [], skipped: [] }, warnings: [], tiHashes: [],
}

const rowsOf = (t: { readonly shape: readonly number[]; readonly data: Float32Array }): Float32Array[] =>
  Array.from({ length: t.shape[0] }, (_, i) => t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1]))
