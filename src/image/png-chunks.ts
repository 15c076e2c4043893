/*
 * PNG chunk layer. Spec (https://www.w3.org/TR/png-3/#5DataRep):
 *   signature 89 50 4E 47 0D 0A 1A 0A, then chunks: 4-byte big-endian LENGTH (≤ 2^31−1), 4-byte TYPE (ASCII
 *   letters), LENGTH bytes of DATA, 4-byte CRC-32 (ISO 3309, poly 0xEDB88320) over TYPE and DATA.
 *   IHDR comes first, IEND last. Text chunks (§11.3.3):
 *   - tEXt: keyword (1–79 Latin-1 bytes) 0x00 text (Latin-1);
 *   - zTXt: keyword 0x00 method(0) zlib(text, Latin-1);
 *   - iTXt: keyword 0x00 flag(0|1) method(0) language 0x00 translated-keyword 0x00 text (UTF-8, zlib if flag 1).
 * A1111 saves its infotext with PIL's `PngInfo.add_text("parameters", text)`: tEXt when the text encodes as
 * Latin-1, otherwise an uncompressed iTXt with empty language and translated keyword. We write the same.
 */
import { crc32, inflateSync } from 'node:zlib'
import { basename } from 'node:path'
import { SdError } from '../core/errors.ts'

/** A PNG file is malformed or uses a feature sdloom does not read. */
export class PngError extends SdError {
  override name = 'PngError'
  constructor(readonly file: string, readonly detail: string) { super(`${basename(file)}: ${detail}`) }
}

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)
const MAX_CHUNK_LENGTH = 0x7fffffff

export interface PngChunk {
  readonly type: string
  readonly data: Uint8Array
}

export interface PngText {
  readonly keyword: string
  readonly text: string
  readonly chunk: 'tEXt' | 'zTXt' | 'iTXt'
}

/** One chunk as bytes: length, type, data, CRC. */
export function encodeChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

const isLatin1 = (s: string): boolean => !/[^\u0000-\u00ff]/.test(s)
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0))
const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts)

/** A text chunk as PIL writes it: tEXt for Latin-1 text, else uncompressed iTXt. */
export function encodeTextChunk(keyword: string, text: string): Uint8Array {
  if (keyword.length < 1 || keyword.length > 79 || !isLatin1(keyword) || keyword.includes('\0')) {
    throw new RangeError(`PNG text keyword must be 1-79 Latin-1 characters without NUL, got ${JSON.stringify(keyword)}`)
  }
  if (isLatin1(text)) return encodeChunk('tEXt', concat(latin1(keyword), Uint8Array.of(0), latin1(text)))
  return encodeChunk('iTXt', concat(latin1(keyword), Uint8Array.of(0, 0, 0, 0, 0), Buffer.from(text, 'utf8')))
}

function checkChunkHeader(file: string, bytes: Uint8Array, pos: number): { type: string; length: number } {
  if (pos + 8 > bytes.length) throw new PngError(file, `truncated at byte ${pos}: expected a chunk header, found end of file (no IEND)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = view.getUint32(pos)
  const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8))
  if (!/^[A-Za-z]{4}$/.test(type)) throw new PngError(file, `bad chunk type ${JSON.stringify(type)} at byte ${pos + 4}`)
  if (length > MAX_CHUNK_LENGTH || pos + 12 + length > bytes.length) {
    throw new PngError(file, `chunk ${type} at byte ${pos} declares ${length} data bytes + 4 CRC bytes, but the file ends ${bytes.length - pos - 8} bytes after its header (truncated?)`)
  }
  return { type, length }
}

/**
 * Splits a PNG into its chunks, checking the signature, every length and CRC, IHDR first and IEND present.
 * Bytes after IEND are ignored (some tools append data there; PNG readers skip it).
 */
export function readPngChunks(bytes: Uint8Array, file = '<png>'): PngChunk[] {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new PngError(file, 'not a PNG file: the 8-byte PNG signature is missing')
  }
  const chunks: PngChunk[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let pos = 8; ;) {
    const { type, length } = checkChunkHeader(file, bytes, pos)
    const data = bytes.subarray(pos + 8, pos + 8 + length)
    const stored = view.getUint32(pos + 8 + length)
    const actual = crc32(bytes.subarray(pos + 4, pos + 8 + length))
    if (stored !== actual) {
      throw new PngError(file, `chunk ${type} at byte ${pos}: CRC mismatch (stored ${hex32(stored)}, computed ${hex32(actual)}); the file is corrupt`)
    }
    if (chunks.length === 0 && type !== 'IHDR') throw new PngError(file, `first chunk must be IHDR, found ${type}`)
    chunks.push({ type, data })
    if (type === 'IEND') return chunks
    pos += 12 + length
  }
}

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`

/**
 * Compressed text is inflated with a bound, as PIL does (PngImagePlugin MAX_TEXT_CHUNK = 1 MiB per chunk,
 * MAX_TEXT_MEMORY = 64 MiB per image): A1111's infotext is a few KB, and a zTXt bomb must not allocate gigabytes.
 */
export const MAX_TEXT_CHUNK = 1024 * 1024
export const MAX_TEXT_MEMORY = 64 * 1024 * 1024

function inflateText(file: string, type: string, data: Uint8Array): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength: MAX_TEXT_CHUNK })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PngError(file, `${type} chunk: compressed text inflates to more than ${MAX_TEXT_CHUNK} bytes (the limit PIL also uses); refused as a decompression bomb`)
    }
    throw new PngError(file, `${type} chunk: compressed text does not inflate (${(e as Error).message})`)
  }
}

/** Decodes one tEXt, zTXt or iTXt chunk. */
export function decodeTextChunk(chunk: PngChunk, file = '<png>'): PngText {
  const { type, data } = chunk
  const nul = data.indexOf(0)
  if (nul < 1 || nul > 79) throw new PngError(file, `${type} chunk: keyword must be 1-79 bytes followed by NUL`)
  const keyword = Buffer.from(data.subarray(0, nul)).toString('latin1')
  const rest = data.subarray(nul + 1)
  if (type === 'tEXt') return { keyword, text: Buffer.from(rest).toString('latin1'), chunk: type }
  if (type === 'zTXt') {
    if (rest.length === 0) throw new PngError(file, `zTXt chunk "${keyword}": truncated (no compression method byte)`)
    if (rest[0] !== 0) throw new PngError(file, `zTXt chunk "${keyword}": unknown compression method ${rest[0]}`)
    return { keyword, text: Buffer.from(inflateText(file, type, rest.subarray(1))).toString('latin1'), chunk: type }
  }
  if (type !== 'iTXt') throw new PngError(file, `chunk ${type} is not a text chunk`)
  const [flag, method] = [rest[0], rest[1]]
  const langEnd = rest.indexOf(0, 2)
  const tkeyEnd = langEnd < 0 ? -1 : rest.indexOf(0, langEnd + 1)
  if (rest.length < 2 || tkeyEnd < 0) throw new PngError(file, `iTXt chunk "${keyword}": truncated header`)
  if (flag > 1 || (flag === 1 && method !== 0)) throw new PngError(file, `iTXt chunk "${keyword}": unknown compression flag ${flag} / method ${method}`)
  const body = rest.subarray(tkeyEnd + 1)
  const utf8 = flag === 1 ? inflateText(file, type, body) : body
  return { keyword, text: Buffer.from(utf8).toString('utf8'), chunk: type }
}

const TEXT_TYPES = new Set(['tEXt', 'zTXt', 'iTXt'])

/** The text chunks among `chunks`, decoded in order; refuses more than `maxText` (PIL's MAX_TEXT_MEMORY) characters in all. */
export function decodeTextChunks(chunks: readonly PngChunk[], file = '<png>', maxText = MAX_TEXT_MEMORY): PngText[] {
  const out: PngText[] = []
  let total = 0
  for (const c of chunks) {
    if (!TEXT_TYPES.has(c.type)) continue
    const t = decodeTextChunk(c, file)
    total += t.text.length
    if (total > maxText) throw new PngError(file, `text chunks hold more than ${maxText} characters in all; refused${maxText === MAX_TEXT_MEMORY ? " (PIL's limit)" : ''}`)
    out.push(t)
  }
  return out
}

/** Every text chunk of a PNG, in file order (at most `maxText` characters in all). */
export function readPngTexts(bytes: Uint8Array, file = '<png>', maxText = MAX_TEXT_MEMORY): PngText[] {
  return decodeTextChunks(readPngChunks(bytes, file), file, maxText)
}
