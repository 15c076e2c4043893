/**
 * Textual-inversion embeddings, read as A1111 reads them (modules/textual_inversion/textual_inversion.py @ c8a5322d,
 * `create_embedding_from_data` and `EmbeddingDatabase.load_from_dir`):
 * - A1111 `.pt`: {"string_to_param": {"*": [n, width]}, "name", "step", …}; flattened by the tensor reader into
 *   `string_to_param.*` (exactly one term);
 * - SDXL: {"clip_l": [n, 768], "clip_g": [n, 1280]} (both required; n = clip_g rows);
 * - diffusers concept `.bin` / `.safetensors`: one tensor (e.g. {"<token>": [width]} or {"emb_params": [n, width]});
 * - `bundle_emb.NAME.*` inside a LoRA, the same layouts under one name.
 * The embedding's name is the FILE STEM (not the `name` field). Its width must fit the model's text encoder(s);
 * files that do not fit are reported as skipped, not errors. Folder scans are recursive over .pt, .bin, .safetensors.
 */
import { readdir, stat } from 'node:fs/promises'
import { basename, extname, join, relative } from 'node:path'
import { SdError, TensorFileError } from '../core/errors.ts'
import type { HostTensor } from '../core/host-tensor.ts'
import { shapeString } from '../core/host-tensor.ts'
import { openTensorFile } from '../formats/open.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { readAllF32 } from './adapter-file.ts'
import type { Adapter, Arch, BaseWeights } from './types.ts'

export interface Embedding {
  /** What a prompt writes to use it: the file stem (or the bundle name inside a LoRA). */
  readonly name: string
  readonly file: string
  /** Rows to write over the placeholder tokens: te1 = SD1/SD2 text encoder or SDXL CLIP-L; te2 = SDXL OpenCLIP bigG. */
  readonly vectors: { readonly te1: HostTensor; readonly te2?: HostTensor }
  /** Number of token positions it takes. */
  readonly count: number
  readonly layout: 'a1111' | 'sdxl' | 'diffusers'
}

/** Token-embedding widths of the base model's text encoders. */
export interface EmbeddingWidths { readonly te1: number; readonly te2?: number }

const TOKEN_EMBEDDINGS: Readonly<Record<Arch, { te1: string; te2?: string }>> = {
  sd1: { te1: 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight' },
  sd2: { te1: 'cond_stage_model.model.token_embedding.weight' },
  sdxl: {
    te1: 'conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight',
    te2: 'conditioner.embedders.1.model.token_embedding.weight',
  },
}

/** Widths read from the base's token-embedding shapes (768 / 1024 / 768 + 1280 in real models; tiny models differ). */
export function embeddingWidths(base: BaseWeights, arch: Arch): EmbeddingWidths {
  const keys = TOKEN_EMBEDDINGS[arch]
  const te1 = base.shape(keys.te1)[1]
  return keys.te2 ? { te1, te2: base.shape(keys.te2)[1] } : { te1 }
}

const as2d = (t: HostTensor): HostTensor => (t.shape.length === 1 ? { shape: [1, t.shape[0]], data: t.data } : t)

/** A1111 `create_embedding_from_data` over a flat state dict. */
export function embeddingFromTensors(name: string, file: string, tensors: ReadonlyMap<string, HostTensor>): Embedding {
  const fail = (detail: string): never => { throw new TensorFileError(file, undefined, detail) }
  const params = [...tensors].filter(([k]) => k.startsWith('string_to_param.'))
  if (params.length > 0) {
    if (params.length !== 1) fail(`embedding file has ${params.length} terms in string_to_param (${params.map(([k]) => k).join(', ')}); expected one`)
    const v = as2d(params[0][1])
    return { name, file, vectors: { te1: v }, count: v.shape[0], layout: 'a1111' }
  }
  const l = tensors.get('clip_l')
  const g = tensors.get('clip_g')
  if (l && g) {
    const te1 = as2d(l)
    const te2 = as2d(g)
    if (te1.shape[0] !== te2.shape[0]) fail(`clip_l ${shapeString(l.shape)} and clip_g ${shapeString(g.shape)} have different numbers of vectors`)
    return { name, file, vectors: { te1, te2 }, count: te2.shape[0], layout: 'sdxl' }
  }
  if (tensors.size === 1) {
    const v = as2d([...tensors.values()][0])
    return { name, file, vectors: { te1: v }, count: v.shape[0], layout: 'diffusers' }
  }
  return fail(`not a textual-inversion embedding: expected string_to_param.*, clip_l + clip_g, or a single tensor; `
    + `found ${tensors.size} tensors (${[...tensors.keys()].slice(0, 5).join(', ')}${tensors.size > 5 ? ', …' : ''})`)
}

/** Why an embedding does not fit the model, or undefined when it does (A1111 `expected_shape` check, per encoder). */
export function embeddingMismatch(e: Embedding, widths: EmbeddingWidths): string | undefined {
  const got = e.vectors.te2 ? `clip_l ${e.vectors.te1.shape[1]} + clip_g ${e.vectors.te2.shape[1]}` : `${e.vectors.te1.shape[1]}`
  const want = widths.te2 !== undefined ? `clip_l ${widths.te1} + clip_g ${widths.te2}` : `${widths.te1}`
  const fits = widths.te2 !== undefined
    ? e.vectors.te2 !== undefined && e.vectors.te1.shape[1] === widths.te1 && e.vectors.te2.shape[1] === widths.te2
    : e.vectors.te2 === undefined && e.vectors.te1.shape[1] === widths.te1
  return fits ? undefined : `vector width ${got} does not fit this model's text encoder (${want})`
}

/** Reads one embedding file; the name is its stem. */
export async function loadEmbedding(file: string, open: (f: string) => Promise<TensorSource> = openTensorFile): Promise<Embedding> {
  const source = await open(file)
  try {
    return embeddingFromTensors(basename(file, extname(file)), file, await readAllF32(source))
  } finally {
    await source.close()
  }
}

/** `bundle_emb.NAME.*` of a LoRA as embeddings (A1111 networks.py `bundle_embeddings`). */
export function bundledEmbeddings(adapter: Adapter): Embedding[] {
  const groups = new Map<string, Map<string, HostTensor>>()
  for (const [key, t] of adapter.bundledEmbeddings) {
    const dot = key.indexOf('.')
    const name = dot < 0 ? key : key.slice(0, dot)
    let g = groups.get(name)
    if (!g) { g = new Map(); groups.set(name, g) }
    g.set(dot < 0 ? name : key.slice(dot + 1), t)
  }
  return [...groups].map(([name, tensors]) => embeddingFromTensors(name, `${adapter.file}/${name}`, tensors))
}

export const EMBEDDING_EXTENSIONS: readonly string[] = ['.pt', '.bin', '.safetensors']

export interface SkippedEmbedding { readonly name: string; readonly file: string; readonly reason: string }

export interface EmbeddingScan {
  /** By name; names are file stems. */
  readonly loaded: ReadonlyMap<string, Embedding>
  readonly skipped: readonly SkippedEmbedding[]
}

/** Every embedding candidate file under `dir` (recursive, by extension), in path order. */
export async function listEmbeddingFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (EMBEDDING_EXTENSIONS.includes(extname(entry.name).toLowerCase())) out.push(path)
    }
  }
  await walk(dir)
  return out.sort()
}

/**
 * Loads every embedding under `dir` (recursive, A1111 `--embeddings-dir`), in path order. Files whose widths do not
 * fit, that cannot be read, that are empty, or whose name repeats an earlier file's are listed as skipped.
 */
export async function loadEmbeddingDir(dir: string, widths: EmbeddingWidths, open: (f: string) => Promise<TensorSource> = openTensorFile): Promise<EmbeddingScan> {
  const loaded = new Map<string, Embedding>()
  const skipped: SkippedEmbedding[] = []
  for (const file of await listEmbeddingFiles(dir)) {
    const name = basename(file, extname(file))
    const skip = (reason: string) => skipped.push({ name, file, reason })
    if ((await stat(file)).size === 0) { skip('empty file'); continue }
    let e: Embedding
    try {
      e = await loadEmbedding(file, open)
    } catch (err) {
      if (!(err instanceof SdError)) throw err
      skip(err.message)
      continue
    }
    const problem = embeddingMismatch(e, widths)
    if (problem) { skip(problem); continue }
    const earlier = loaded.get(name)
    if (earlier) { skip(`the name "${name}" is already taken by ${relative(dir, earlier.file)}`); continue }
    loaded.set(name, e)
  }
  return { loaded, skipped }
}
