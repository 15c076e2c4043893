/*
 * Token-embedding lookup on the host. Doing it outside the graph keeps the [49408, C] table out of ORT and lets
 * textual-inversion vectors overwrite positions exactly as A1111's `EmbeddingsWithFixes` does
 * (modules/sd_hijack.py @ c8a5322d): a fix at `offset` writes its n vectors at positions offset+1 … offset+n
 * (offset counts tokens after BOS), cut at the end of the sequence.
 */
import { basename } from 'node:path'
import { InputError, ModelMismatchError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import type { WeightSource } from '../../graph/session.ts'
import type { ShapeSource } from '../../nn/module.ts'
import { decodeInto } from '../../formats/to-f32.ts'

/** Textual-inversion vectors placed after position `offset` of a chunk (A1111's `PromptChunkFix`). */
export interface EmbeddingFix {
  /** Index into the chunk's tokens without BOS: the first vector lands at token position offset + 1. */
  readonly offset: number
  /** One vector per placeholder token, each as wide as the text encoder. */
  readonly vectors: readonly Float32Array[]
}

export type TextWeights = WeightSource & ShapeSource

/** ids [T] → [1, T, C] rows of `key` ([vocab, C]), with `fixes` written over their positions. */
export function embedTokens(weights: TextWeights, key: string, ids: readonly number[], fixes: readonly EmbeddingFix[] = []): HostTensor {
  const [vocab, c] = weights.shape(key)
  // a table held as half bits (--weights auto) is widened a row at a time, not 49408 rows per prompt
  const half = weights.float16?.(key)
  const table = half ? undefined : weights.get(key)
  const t = ids.length
  const out = new Float32Array(t * c)
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new InputError(`token id ${id} at position ${i} is outside the vocabulary of "${key}" in ${basename(weights.file)} (0..${vocab - 1})`)
    }
    if (half) decodeInto('F16', new Uint8Array(half.buffer, half.byteOffset + id * c * 2, c * 2), out.subarray(i * c, (i + 1) * c))
    else out.set(table!.subarray(id * c, (id + 1) * c), i * c)
  })
  for (const fix of fixes) writeFix(weights.file, key, { out, t, c }, fix)
  return { shape: [1, t, c], data: out }
}

function writeFix(file: string, key: string, dst: { out: Float32Array; t: number; c: number }, fix: EmbeddingFix): void {
  if (!Number.isInteger(fix.offset) || fix.offset < 0 || fix.offset >= dst.t - 1) {
    throw new InputError(`textual-inversion fix offset ${fix.offset} is outside a ${dst.t}-token chunk (0..${dst.t - 2})`)
  }
  const n = Math.min(dst.t - fix.offset - 1, fix.vectors.length)
  for (let j = 0; j < n; j++) {
    const v = fix.vectors[j]
    if (v.length !== dst.c) {
      throw new ModelMismatchError(file, `textual-inversion vector ${j} at offset ${fix.offset} has ${v.length} values, but the `
        + `text encoder "${key}" is ${dst.c} wide. Hint: the embedding was trained for another model family.`)
    }
    dst.out.set(v, (fix.offset + 1 + j) * dst.c)
  }
}
