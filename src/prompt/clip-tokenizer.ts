/**
 * CLIP byte-level BPE tokenizer, as A1111 runs it:
 * - flavor 'clip' = transformers' (slow) CLIPTokenizer with ftfy installed (SD1.x, SDXL's CLIP-L):
 *   `whitespace_clean(ftfy.fix_text(text)).lower()`; the literal specials `<|startoftext|>` / `<|endoftext|>` are split
 *   out of the raw text first (added-token trie), as PreTrainedTokenizer.tokenize does.
 *   https://github.com/huggingface/transformers/blob/v4.33.0/src/transformers/models/clip/tokenization_clip.py
 * - flavor 'open-clip' = open_clip's SimpleTokenizer (SD2.x, SDXL's bigG): ftfy, then `html.unescape` twice, strip,
 *   whitespace_clean, lower; its specials are spelled `<start_of_text>` / `<end_of_text>`.
 *   https://github.com/mlfoundations/open_clip/blob/bb6e834e/src/open_clip/tokenizer.py
 * Both share the vocabulary of `openai/clip-vit-large-patch14` (vocab.json + merges.txt): BOS 49406, EOS 49407.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SdError } from '../core/errors.ts'
import { ftfyFixText } from './ftfy.ts'
import { htmlUnescape } from './html-unescape.ts'
import { PY_SPACE } from './py-text.ts'

export type TokenizerFlavor = 'clip' | 'open-clip'

/** A tokenizer's vocabulary file is missing or malformed. */
export class TokenizerFileError extends SdError {
  override name = 'TokenizerFileError'
  constructor(readonly file: string, detail: string) { super(`${file}: ${detail}`) }
}

export interface ClipTokenizer {
  readonly flavor: TokenizerFlavor
  readonly bos: number
  readonly eos: number
  /** id of ",</w>" (A1111's comma_token, used for comma back-off). */
  readonly comma: number
  /** Token ids of `text`, without BOS/EOS (A1111 `tokenize`: `add_special_tokens=False`, no truncation). */
  encode(text: string): number[]
  /** The same vocabulary and BPE cache with the other text cleanup. */
  withFlavor(flavor: TokenizerFlavor): ClipTokenizer
  /** Entries in the shared BPE cache (bounded by BPE_CACHE_LIMIT). */
  readonly cacheSize?: () => number
}

/** transformers reads merges lines [1, 49152 - 256 - 2 + 1): the header line is skipped, 48894 merges are used. */
const MERGE_COUNT = 49152 - 256 - 2

/** GPT-2/CLIP `bytes_to_unicode`: printable bytes map to themselves, the others to U+0100 upwards. */
function bytesToUnicode(): string[] {
  const table: string[] = new Array(256)
  let n = 0
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
    table[b] = String.fromCodePoint(printable ? b : 256 + n++)
  }
  return table
}

const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu')
const PY_SPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu')
/** CLIP's `whitespace_clean`: Python `re.sub(r"\s+", " ", text).strip()`. */
export const whitespaceClean = (text: string): string => text.replace(PY_SPACE_RUN, ' ').replace(PY_SPACE_EDGES, '')

// The CLIP pre-tokenizer pattern (regex module, IGNORECASE); `\s` spelled as Python's set.
const patternFor = (bos: string, eos: string): RegExp => new RegExp(
  `${bos}|${eos}|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${PY_SPACE}\\p{L}\\p{N}]+`, 'giu')
const HF_PATTERN = patternFor('<\\|startoftext\\|>', '<\\|endoftext\\|>')
const OPEN_CLIP_PATTERN = patternFor('<start_of_text>', '<end_of_text>')
const HF_SPECIALS = /(<\|startoftext\|>|<\|endoftext\|>)/

/** Most pre-tokens the BPE cache keeps (a prompt has tens; transformers' own cache has no bound). */
export const BPE_CACHE_LIMIT = 20_000

class ClipBpe {
  readonly byteEncoder = bytesToUnicode()
  private readonly cache = new Map<string, string[]>()
  get cacheSize(): number { return this.cache.size }
  private readonly utf8 = new TextEncoder()

  constructor(readonly vocab: ReadonlyMap<string, number>, private readonly ranks: ReadonlyMap<string, number>) {}

  /** Byte-level encoding of one pre-token, then its BPE pieces (transformers `bpe`, with its cache). */
  pieces(token: string): string[] {
    let mapped = ''
    for (const b of this.utf8.encode(token)) mapped += this.byteEncoder[b]
    const hit = this.cache.get(mapped)
    if (hit) return hit
    const result = this.merge(mapped)
    // A server tokenizes strangers' prompts for days: without a bound, every distinct word ever seen stays here.
    if (this.cache.size >= BPE_CACHE_LIMIT) this.cache.clear()
    this.cache.set(mapped, result)
    return result
  }

  private merge(token: string): string[] {
    const chars = [...token]
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>']
    while (word.length > 1) {
      let best = Infinity
      let bestAt = -1
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(word[i] + ' ' + word[i + 1])
        if (rank !== undefined && rank < best) { best = rank; bestAt = i }
      }
      if (bestAt < 0) break
      word = mergePair(word, word[bestAt], word[bestAt + 1])
    }
    return word
  }

  id(piece: string): number {
    // transformers maps an unknown piece to unk (= <|endoftext|>); byte-level BPE over this vocabulary never yields one.
    return this.vocab.get(piece) ?? EOS
  }
}

/** Replaces every non-overlapping (first, second) pair, left to right, as transformers' loop does. */
function mergePair(word: readonly string[], first: string, second: string): string[] {
  const out: string[] = []
  for (let i = 0; i < word.length;) {
    if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
      out.push(first + second)
      i += 2
    } else {
      out.push(word[i])
      i += 1
    }
  }
  return out
}

const BOS = 49406
const EOS = 49407

function encodeCleaned(bpe: ClipBpe, cleaned: string, pattern: RegExp, specials: Record<string, number>): number[] {
  const ids: number[] = []
  for (const m of cleaned.matchAll(pattern)) {
    const special = specials[m[0]]
    if (special !== undefined) { ids.push(special); continue }
    for (const piece of bpe.pieces(m[0])) ids.push(bpe.id(piece))
  }
  return ids
}

function encodeHf(bpe: ClipBpe, text: string): number[] {
  const specials = { '<|startoftext|>': BOS, '<|endoftext|>': EOS }
  const ids: number[] = []
  for (const part of text.split(HF_SPECIALS)) {
    if (part === '<|startoftext|>' || part === '<|endoftext|>') { ids.push(specials[part]); continue }
    if (part === '') continue
    ids.push(...encodeCleaned(bpe, whitespaceClean(ftfyFixText(part)).toLowerCase(), HF_PATTERN, specials))
  }
  return ids
}

function encodeOpenClip(bpe: ClipBpe, text: string): number[] {
  const cleaned = whitespaceClean(htmlUnescape(htmlUnescape(ftfyFixText(text)))).toLowerCase()
  return encodeCleaned(bpe, cleaned, OPEN_CLIP_PATTERN, { '<start_of_text>': BOS, '<end_of_text>': EOS })
}

function makeTokenizer(bpe: ClipBpe, flavor: TokenizerFlavor): ClipTokenizer {
  const comma = bpe.vocab.get(',</w>')
  if (comma === undefined) throw new TokenizerFileError('vocab.json', 'has no ",</w>" entry. Hint: use the CLIP vocabulary.')
  return {
    flavor, bos: BOS, eos: EOS, comma,
    encode: (text) => (flavor === 'clip' ? encodeHf(bpe, text) : encodeOpenClip(bpe, text)),
    cacheSize: () => bpe.cacheSize,
    withFlavor: (other) => makeTokenizer(bpe, other),
  }
}

function parseVocab(vocabJson: string, file: string): Map<string, number> {
  let parsed: unknown
  try {
    parsed = JSON.parse(vocabJson)
  } catch (e) {
    throw new TokenizerFileError(file, `is not valid JSON (${(e as Error).message}).`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TokenizerFileError(file, 'expected a JSON object {token: id}, found another JSON value.')
  }
  const vocab = new Map(Object.entries(parsed as Record<string, number>))
  for (const [name, id] of [['<|startoftext|>', BOS], ['<|endoftext|>', EOS]] as const) {
    if (vocab.get(name) !== id) {
      throw new TokenizerFileError(file, `expected "${name}" = ${id}, found ${vocab.get(name)}. `
        + 'Hint: sdloom needs the vocabulary of openai/clip-vit-large-patch14.')
    }
  }
  return vocab
}

function parseMerges(mergesTxt: string, file: string): Map<string, number> {
  const lines = mergesTxt.trim().split('\n').slice(1, MERGE_COUNT + 1)
  if (lines.length !== MERGE_COUNT) {
    throw new TokenizerFileError(file, `expected ${MERGE_COUNT} merges after the header line, found ${lines.length}. `
      + 'Hint: the file is truncated or not the CLIP merges.txt.')
  }
  return new Map(lines.map((line, rank) => [line.trim().split(/\s+/).join(' '), rank]))
}

/** A tokenizer from the contents of vocab.json and merges.txt. */
export function clipTokenizerFromContents(vocabJson: string, mergesTxt: string,
  flavor: TokenizerFlavor = 'clip'): ClipTokenizer {
  return makeTokenizer(new ClipBpe(parseVocab(vocabJson, 'vocab.json'), parseMerges(mergesTxt, 'merges.txt')), flavor)
}

function readTokenizerFile(dir: string, name: string): string {
  const path = join(dir, name)
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new TokenizerFileError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). `
      + 'Hint: pass --tokenizer DIR (a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER.')
  }
}

/** A tokenizer from a folder holding vocab.json + merges.txt. */
export function createClipTokenizer(dir: string, flavor: TokenizerFlavor = 'clip'): ClipTokenizer {
  const vocabPath = join(dir, 'vocab.json')
  const mergesPath = join(dir, 'merges.txt')
  const bpe = new ClipBpe(parseVocab(readTokenizerFile(dir, 'vocab.json'), vocabPath),
    parseMerges(readTokenizerFile(dir, 'merges.txt'), mergesPath))
  return makeTokenizer(bpe, flavor)
}
