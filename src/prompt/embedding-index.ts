/**
 * Where textual-inversion embeddings sit in a token stream, as A1111's EmbeddingDatabase finds them: each embedding's
 * name is tokenized without BOS/EOS; lookups go by the first id, trying longer id sequences first.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/textual_inversion/textual_inversion.py
 * (`register_embedding`, `find_embedding_at_position`)
 */
import { InputError } from '../core/errors.ts'
import type { ClipTokenizer } from './clip-tokenizer.ts'

/** What the text side needs to know of an embedding: its trigger name (the file stem) and its vector count. */
export interface EmbeddingInfo {
  readonly name: string
  readonly vectors: number
}

interface Entry { readonly ids: readonly number[]; readonly embedding: EmbeddingInfo }

export interface EmbeddingMatch {
  readonly embedding: EmbeddingInfo
  /** How many prompt tokens the name covered. */
  readonly length: number
}

export interface EmbeddingIndex {
  /** The embedding whose name's ids start at `tokens[offset]`, if any. */
  find(tokens: readonly number[], offset: number): EmbeddingMatch | undefined
  readonly size: number
}

function startsWithAt(tokens: readonly number[], offset: number, ids: readonly number[]): boolean {
  if (offset + ids.length > tokens.length) return false
  for (let k = 0; k < ids.length; k++) if (tokens[offset + k] !== ids[k]) return false
  return true
}

/**
 * Builds the lookup. Registering a name again replaces the earlier entry (A1111 `register_embedding_by_name`); among
 * names that start with the same id, longer id sequences are tried first and equal lengths keep registration order.
 * Use the tokenizer of the model's first text encoder: for SDXL A1111 tokenizes names with CLIP-L's ('clip') and
 * matches those ids in the chunking of both encoders, so build one index and pass it to both tokenizeLine calls.
 */
export function buildEmbeddingIndex(tokenizer: ClipTokenizer, embeddings: readonly EmbeddingInfo[]): EmbeddingIndex {
  const byName = new Map<string, Entry>()
  for (const embedding of embeddings) {
    if (!Number.isInteger(embedding.vectors) || embedding.vectors < 1) {
      throw new InputError(`embedding "${embedding.name}": expected a positive whole number of vectors, found `
        + `${embedding.vectors}. Hint: the embedding file holds no vectors.`)
    }
    const ids = tokenizer.encode(embedding.name)
    if (ids.length === 0) {
      throw new InputError(`embedding "${embedding.name}": its name gives no tokens, so no prompt can use it. `
        + 'Hint: rename the file.')
    }
    byName.delete(embedding.name)
    byName.set(embedding.name, { ids, embedding })
  }
  const lookup = new Map<number, Entry[]>()
  for (const entry of byName.values()) {
    const list = lookup.get(entry.ids[0]) ?? []
    list.push(entry)
    lookup.set(entry.ids[0], list)
  }
  for (const list of lookup.values()) list.sort((a, b) => b.ids.length - a.ids.length)   // stable
  return {
    size: byName.size,
    find(tokens, offset) {
      for (const entry of lookup.get(tokens[offset]) ?? []) {
        if (startsWithAt(tokens, offset, entry.ids)) return { embedding: entry.embedding, length: entry.ids.length }
      }
      return undefined
    },
  }
}

/** An index that matches nothing (no embeddings loaded). */
export const NO_EMBEDDINGS: EmbeddingIndex = { size: 0, find: () => undefined }
