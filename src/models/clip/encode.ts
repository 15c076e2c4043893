/*
 * A1111's prompt conditioning over token chunks (modules/sd_hijack_clip.py @ c8a5322d,
 * FrozenCLIPEmbedderWithCustomWordsBase.forward / process_tokens, emphasis "Original"):
 *  - each 77-token chunk (BOS + 75 + EOS, EOS-padded) is encoded on its own;
 *  - OpenCLIP wrappers (SD2, SDXL bigG) set every id after the first EOS to 0 (`id_pad = 0`) before encoding;
 *  - emphasis "Original" (emphasis.ts) on each chunk;
 *  - chunks are concatenated on the token axis; the pooled vector is the FIRST chunk's, taken before emphasis.
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import type { EmbeddingFix } from './embed.ts'
import { applyEmphasis } from './emphasis.ts'
import { argmaxId, type TextEncoderSession } from './text-encoder.ts'

/** One A1111 chunk, as the prompt chunker makes it. */
export interface PromptChunk {
  /** 77 ids: BOS, 75 tokens, EOS, padded with EOS (A1111 `PromptChunk.tokens`). */
  readonly tokens: readonly number[]
  /** 77 emphasis weights, 1.0 for BOS/EOS/padding. */
  readonly multipliers: readonly number[]
  /** Textual-inversion vectors (offsets count tokens after BOS). */
  readonly fixes: readonly EmbeddingFix[]
}

export interface EncodedPrompt {
  /** [1, 77·k, C] for k chunks. */
  readonly cond: HostTensor
  /** [1, E]: the first chunk's pooled output, when the encoder's spec asks for pooled. */
  readonly pooled: HostTensor | undefined
}

const EOS = 49407

/** The ids A1111 feeds the encoder: OpenCLIP towers see 0 after the first EOS; HF CLIP keeps the EOS padding. */
export function encoderTokens(kind: TextEncoderSession['config']['kind'], tokens: readonly number[]): number[] {
  if (kind === 'clip') return [...tokens]
  const end = tokens.indexOf(EOS)
  return end < 0 ? [...tokens] : tokens.map((id, i) => (i > end ? 0 : id))
}

/** Encodes all chunks in one batched run, applies emphasis per chunk and concatenates them on the token axis. */
export async function encodeChunks(encoder: TextEncoderSession, chunks: readonly PromptChunk[]): Promise<EncodedPrompt> {
  const { positions: t, width: c, kind } = encoder.config
  if (chunks.length === 0) throw new InputError('encodeChunks: no chunks (an empty prompt still has one chunk of BOS + EOS padding)')
  const batch = new Float32Array(chunks.length * t * c)
  const eos: number[] = []
  chunks.forEach((chunk, i) => {
    if (chunk.tokens.length !== t || chunk.multipliers.length !== t) {
      throw new InputError(`encodeChunks: chunk ${i} has ${chunk.tokens.length} tokens and ${chunk.multipliers.length} multipliers; expected ${t} of each`)
    }
    const ids = encoderTokens(kind, chunk.tokens)
    batch.set(encoder.embed(ids, chunk.fixes).data, i * t * c)
    eos.push(argmaxId(ids))
  })
  const out = await encoder.run({ shape: [chunks.length, t, c], data: batch }, eos)
  const z = out.hidden.data
  chunks.forEach((chunk, i) => {
    const at = i * t * c
    z.set(applyEmphasis(z.subarray(at, at + t * c), chunk.multipliers, 'Original', `encodeChunks: chunk ${i}`), at)
  })
  const pooled = out.pooled && { shape: [1, out.pooled.shape[1]], data: out.pooled.data.slice(0, out.pooled.shape[1]) }
  return { cond: { shape: [1, chunks.length * t, c], data: z }, pooled }
}
