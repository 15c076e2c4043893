/**
 * A1111's conditioning assembly around a text encoder (`FrozenCLIPEmbedderWithCustomWordsBase.forward` and
 * `prompt_parser.stack_conds`), with the encoder itself passed in: texts → chunks → one encoder call per chunk →
 * emphasis → chunks concatenated on the token axis. A batch of texts is padded to the same number of chunks with
 * empty chunks, as A1111 does (this changes nothing for a text's own chunks, only the length).
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/sd_hijack_clip.py
 */
import { ShapeMismatchError } from '../core/errors.ts'
import { CHUNK_TOKENS, emptyChunk, encoderInputIds, tokenizeLine, type ChunkFix, type PromptChunk,
  type TokenizeLineOptions } from './chunker.ts'
import { applyEmphasis } from '../models/clip/emphasis.ts'

/** One chunk through the text encoder: ids [77] (already padded for this encoder), embedding fixes → z [77, dim]. */
export type ChunkEncoder = (ids: readonly number[], fixes: readonly ChunkFix[]) =>
  Promise<{ readonly z: Float32Array; readonly pooled?: Float32Array }>

export interface EncodeTextsOptions extends TokenizeLineOptions {
  readonly encode: ChunkEncoder
  /** Id the encoder pads with after the first EOS: EOS for CLIP-L (SD1, SDXL's first encoder), 0 for OpenCLIP. */
  readonly padId: number
}

export interface EncodedText {
  /** [chunks × 77, dim] row-major */
  readonly z: Float32Array
  readonly tokens: number
  readonly dim: number
  /** The encoder's pooled output for the FIRST chunk, before emphasis (SDXL's bigG), if it gives one. */
  readonly pooled?: Float32Array
  /** A1111's token count of the text. */
  readonly tokenCount: number
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  parts.reduce((at, p) => { out.set(p, at); return at + p.length }, 0)
  return out
}

/**
 * A1111 `forward` for a batch of texts (the texts of one prompt's schedule, as `get_learned_conditioning` batches
 * them). Emphasis runs on each chunk position for the whole batch at once, so its two means are taken over every
 * text's chunk i together, exactly as A1111's `z.mean()` over the batched [B, 77, dim] tensor.
 */
export async function encodeTexts(texts: readonly string[], options: EncodeTextsOptions): Promise<EncodedText[]> {
  const lines = new Map<string, { chunks: readonly PromptChunk[]; tokenCount: number }>()
  for (const t of texts) if (!lines.has(t)) lines.set(t, tokenizeLine(t, options))
  const batch = texts.map((t) => lines.get(t) as { chunks: readonly PromptChunk[]; tokenCount: number })
  const chunkCount = Math.max(...batch.map((l) => l.chunks.length))
  const empty = emptyChunk(options.tokenizer)
  const perText: Float32Array[][] = texts.map(() => [])
  const pooled: (Float32Array | undefined)[] = []
  for (let i = 0; i < chunkCount; i++) {
    const chunks = batch.map((l) => l.chunks[i] ?? empty)
    const outs = []
    for (const c of chunks) outs.push(await options.encode(encoderInputIds(c, options.padId, options.tokenizer.eos), c.fixes))
    for (const o of outs) {
      if (o.z.length === 0 || o.z.length % CHUNK_TOKENS !== 0 || o.z.length !== outs[0].z.length) {
        // the nearest whole [77, dim] size, as the expectation to show
        const dim = Math.max(1, Math.round(outs[0].z.length / CHUNK_TOKENS))
        throw new ShapeMismatchError('text encoder', 'z', [CHUNK_TOKENS * dim], [o.z.length],
          'the encoder must return 77 × dim values (one row per token) for each chunk, the same dim for all.')
      }
    }
    if (i === 0) outs.forEach((o) => pooled.push(o.pooled))
    const z = applyEmphasis(concat(outs.map((o) => o.z)), chunks.flatMap((c) => c.multipliers),
      options.emphasis ?? 'Original', `chunk ${i} of ${JSON.stringify(texts)}`)
    const size = z.length / texts.length
    texts.forEach((_t, b) => perText[b].push(z.subarray(b * size, (b + 1) * size)))
  }
  return batch.map((line, b) => {
    const z = concat(perText[b])
    return { z, tokens: chunkCount * CHUNK_TOKENS, dim: z.length / (chunkCount * CHUNK_TOKENS), pooled: pooled[b],
      tokenCount: line.tokenCount }
  })
}

/**
 * A1111 `stack_conds`: conditionings of different lengths (e.g. cond and uncond, or AND-parts) are brought to the
 * longest by repeating each one's last token vector.
 */
export function stackConds(conds: readonly EncodedText[]): Float32Array[] {
  const tokens = Math.max(...conds.map((c) => c.tokens))
  return conds.map((c) => {
    if (c.dim !== conds[0].dim) {
      throw new ShapeMismatchError('conditioning', 'z', [c.tokens, conds[0].dim], [c.tokens, c.dim],
        'all conditionings of a batch must come from the same text encoder.')
    }
    const out = new Float32Array(tokens * c.dim)
    out.set(c.z)
    const last = c.z.subarray((c.tokens - 1) * c.dim, c.tokens * c.dim)
    for (let t = c.tokens; t < tokens; t++) out.set(last, t * c.dim)
    return out
  })
}
