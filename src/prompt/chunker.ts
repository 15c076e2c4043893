/**
 * A1111 `tokenize_line`: a prompt → chunks of 75 tokens, each sent to the text encoder as BOS + 75 + EOS (77),
 * with a weight per token, BREAK, comma back-off and textual-inversion placeholders.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/sd_hijack_clip.py
 * (`FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line`, `empty_chunk`, `process_tokens`)
 */
import type { ClipTokenizer } from './clip-tokenizer.ts'
import { isBreak, parsePromptAttention, type WeightedText } from './attention.ts'
import { NO_EMBEDDINGS, type EmbeddingIndex } from './embedding-index.ts'
import type { EmphasisMode } from '../models/clip/emphasis.ts'

/** Prompt tokens per chunk (A1111 `chunk_length`); a chunk is 77 ids with BOS and EOS. */
export const CHUNK_LENGTH = 75
export const CHUNK_TOKENS = CHUNK_LENGTH + 2

/** Where an embedding's vectors replace the token embeddings of its placeholder ids 0. */
export interface ChunkFix {
  /** Position of the first vector among the 75 prompt tokens, i.e. index `offset + 1` of the 77 ids. */
  readonly offset: number
  readonly name: string
  readonly vectors: number
}

export interface PromptChunk {
  /** [77]: BOS, 75 prompt ids (embedding placeholders are 0), EOS; padded with EOS. */
  readonly tokens: readonly number[]
  /** [77]: emphasis weight per position (1 for BOS, EOS and padding). */
  readonly multipliers: readonly number[]
  readonly fixes: readonly ChunkFix[]
}

export interface TokenizedLine {
  readonly chunks: readonly PromptChunk[]
  /** A1111's token count (shown as "n/75" in its UI): 75 per full chunk plus the tokens of the last. */
  readonly tokenCount: number
}

export interface TokenizeLineOptions {
  readonly tokenizer: ClipTokenizer
  readonly embeddings?: EmbeddingIndex
  /** A1111 "Emphasis mode"; 'None' also turns off BREAK and bracket parsing. Default 'Original'. */
  readonly emphasis?: EmphasisMode
  /** A1111 `comma_padding_backtrack` (default 20; 0 = off). */
  readonly commaPaddingBacktrack?: number
}

interface Building { tokens: number[]; multipliers: number[]; fixes: ChunkFix[] }

const newChunk = (): Building => ({ tokens: [], multipliers: [], fixes: [] })

class LineChunker {
  readonly chunks: PromptChunk[] = []
  tokenCount = 0
  chunk = newChunk()
  lastComma = -1

  constructor(private readonly tokenizer: ClipTokenizer) {}

  /** A1111 `next_chunk`: pads the chunk to 75, adds BOS/EOS, and starts a new one. */
  next(isLast = false): void {
    const c = this.chunk
    this.tokenCount += isLast ? c.tokens.length : CHUNK_LENGTH
    const toAdd = CHUNK_LENGTH - c.tokens.length
    for (let k = 0; k < toAdd; k++) { c.tokens.push(this.tokenizer.eos); c.multipliers.push(1.0) }
    this.chunks.push({
      tokens: [this.tokenizer.bos, ...c.tokens, this.tokenizer.eos],
      multipliers: [1.0, ...c.multipliers, 1.0],
      fixes: c.fixes,
    })
    this.lastComma = -1
    this.chunk = newChunk()
  }

  /** At a full chunk with a comma among its last `backtrack` tokens, moves what follows the comma to a new chunk. */
  backOffToComma(backtrack: number): void {
    const c = this.chunk
    if (backtrack === 0 || c.tokens.length !== CHUNK_LENGTH || this.lastComma === -1) return
    if (c.tokens.length - this.lastComma > backtrack) return
    const cut = this.lastComma + 1
    const relocTokens = c.tokens.slice(cut)
    const relocMults = c.multipliers.slice(cut)
    c.tokens = c.tokens.slice(0, cut)
    c.multipliers = c.multipliers.slice(0, cut)
    this.next()
    this.chunk.tokens = relocTokens
    this.chunk.multipliers = relocMults
  }
}

/** Port of A1111 `tokenize_line` (the fragment loop and its bookkeeping kept in A1111's order). */
export function tokenizeLine(line: string, options: TokenizeLineOptions): TokenizedLine {
  const { tokenizer } = options
  const embeddings = options.embeddings ?? NO_EMBEDDINGS
  const backtrack = options.commaPaddingBacktrack ?? 20
  const parsed: WeightedText[] = options.emphasis === 'None' ? [{ text: line, weight: 1.0 }] : parsePromptAttention(line)
  const state = new LineChunker(tokenizer)
  for (const fragment of parsed) {
    if (isBreak(fragment)) { state.next(); continue }
    const tokens = tokenizer.encode(fragment.text)
    let position = 0
    while (position < tokens.length) {
      const token = tokens[position]
      if (token === tokenizer.comma) state.lastComma = state.chunk.tokens.length
      else state.backOffToComma(backtrack)
      if (state.chunk.tokens.length === CHUNK_LENGTH) state.next()
      const match = embeddings.find(tokens, position)
      if (match === undefined) {
        state.chunk.tokens.push(token)
        state.chunk.multipliers.push(fragment.weight)
        position += 1
        continue
      }
      const n = match.embedding.vectors
      if (state.chunk.tokens.length + n > CHUNK_LENGTH) state.next()
      state.chunk.fixes.push({ offset: state.chunk.tokens.length, name: match.embedding.name, vectors: n })
      for (let k = 0; k < n; k++) { state.chunk.tokens.push(0); state.chunk.multipliers.push(fragment.weight) }
      position += match.length
    }
  }
  if (state.chunk.tokens.length > 0 || state.chunks.length === 0) state.next(true)
  return { chunks: state.chunks, tokenCount: state.tokenCount }
}

/** A1111 `empty_chunk`: what a shorter prompt of a batch is padded with (BOS + 76 EOS, weights 1). */
export function emptyChunk(tokenizer: ClipTokenizer): PromptChunk {
  return {
    tokens: [tokenizer.bos, ...new Array<number>(CHUNK_LENGTH + 1).fill(tokenizer.eos)],
    multipliers: new Array<number>(CHUNK_TOKENS).fill(1.0),
    fixes: [],
  }
}

/**
 * The ids the text encoder actually sees (A1111 `process_tokens`): unchanged when the pad id is EOS (CLIP-L / SD1);
 * for OpenCLIP (SD2, SDXL's bigG, pad id 0) every position after the first EOS becomes 0.
 */
export function encoderInputIds(chunk: PromptChunk, padId: number, eos: number): number[] {
  const ids = [...chunk.tokens]
  if (padId === eos) return ids
  const first = ids.indexOf(eos)
  for (let k = first + 1; first >= 0 && k < ids.length; k++) ids[k] = padId
  return ids
}
