/**
 * ftfy 6.3.1 `fix_encoding` (mojibake repair: UTF-8 that was decoded with one of ten single-byte encodings) and
 * `fix_c1_controls`. Byte strings are held as "binary" JS strings (one char per byte, U+0000..U+00FF) so the
 * byte-level regexes of ftfy read the same.
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/__init__.py (_fix_encoding_one_step_and_explain)
 * https://github.com/rspeer/python-ftfy/blob/v6.3.1/ftfy/chardata.py, bad_codecs/sloppy.py
 */
import { isBad, UTF8_DETECTOR_RE } from './ftfy-badness.ts'
import { CHARMAP_ENCODINGS, type SingleByteEncoding } from './ftfy-charmaps.ts'

interface Codec {
  readonly name: string
  readonly sloppy: boolean
  readonly decode: readonly string[]            // byte → char, all 256 bytes
  readonly encode: ReadonlyMap<string, number>  // char → byte
}

function makeCodec(enc: SingleByteEncoding): Codec {
  const decode = Array.from({ length: 256 }, (_, b) => (b >= 0x80 ? enc.high[b - 0x80] : String.fromCharCode(b)))
  decode[0x1a] = enc.byte1a
  return { name: enc.name, sloppy: enc.name.startsWith('sloppy'), decode, encode: new Map(decode.map((c, b) => [c, b])) }
}
const CODECS: readonly Codec[] = CHARMAP_ENCODINGS.map(makeCodec)
const SLOPPY_1252 = CODECS.find((c) => c.name === 'sloppy-windows-1252') as Codec

type ByteString = string

/** `text.encode(codec)`, or undefined where a character has no byte (ftfy's `possible_encoding` fails). */
function encodeWith(codec: Codec, text: string): ByteString | undefined {
  let out = ''
  for (const ch of text) {
    const b = codec.encode.get(ch)
    if (b === undefined) return undefined
    out += String.fromCharCode(b)
  }
  return out
}

const toBytes = (s: ByteString): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0))
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true })

function decodeUtf8(bytes: ByteString): string | undefined {
  try {
    return UTF8_STRICT.decode(toBytes(bytes))
  } catch {
    return undefined   // not UTF-8: ftfy moves on to its next candidate encoding
  }
}

// ftfy's "utf-8-variants": CESU-8 surrogate pairs and Java's C0 80 (NUL) are accepted besides plain UTF-8.
const CESU8_OR_NUL_RE = /\xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf][\x80-\xbf]|\xc0\x80/g

function decodeUtf8Variants(bytes: ByteString): string | undefined {
  let out = ''
  let pos = 0
  for (const m of bytes.matchAll(CESU8_OR_NUL_RE)) {
    const plain = decodeUtf8(bytes.slice(pos, m.index))
    if (plain === undefined) return undefined
    const b = toBytes(m[0])
    const hi = 0xd800 + ((b[1] & 0x0f) << 6) + (b[2] & 0x3f)
    const lo = 0xdc00 + ((b[4] & 0x0f) << 6) + (b[5] & 0x3f)
    out += plain + (m[0] === '\xc0\x80' ? '\x00' : String.fromCharCode(hi, lo))
    pos = (m.index ?? 0) + m[0].length
  }
  const rest = decodeUtf8(bytes.slice(pos))
  return rest === undefined ? undefined : out + rest
}

const ALTERED_UTF8_RE = new RegExp('[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9][ ]'
  + '|[\\xe2\\xe3][ ][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]|[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf][ ]'
  + '|[\\xf0][ ][\\x80-\\xbf][\\x80-\\xbf]|[\\xf0][\\x80-\\xbf][ ][\\x80-\\xbf]|[\\xf0][\\x80-\\xbf][\\x80-\\xbf][ ]', 'g')
const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g
const LOSSY_UTF8_RE = new RegExp('[\\xc2-\\xdf][\\x1a]|[\\xc2-\\xc3][?]'
  + '|\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]|\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]'
  + '|[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]|[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]'
  + '|[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]'
  + '|[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]|\\x1a', 'g')

/** ftfy `restore_byte_a0`: a space that was a non-breaking space inside a UTF-8 sequence becomes 0xA0 again. */
function restoreByteA0(bytes: ByteString): ByteString {
  return bytes.replace(A_GRAVE_WORD_RE, '\xc3\xa0 ').replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'))
}

const replaceLossySequences = (bytes: ByteString): ByteString => bytes.replace(LOSSY_UTF8_RE, '\xef\xbf\xbd')

/** Each candidate encoding in ftfy's order: encode, repair the bytes, decode as UTF-8; the first that decodes wins. */
function tryCandidates(text: string): { fixed?: string; latin1Possible: boolean } {
  let latin1Possible = false
  for (const codec of CODECS) {
    let bytes = encodeWith(codec, text)
    if (bytes === undefined) continue
    if (codec.name === 'latin-1') latin1Possible = true
    ALTERED_UTF8_RE.lastIndex = 0
    if (codec.name !== 'macroman' && ALTERED_UTF8_RE.test(bytes)) bytes = restoreByteA0(bytes)
    if (codec.sloppy) bytes = replaceLossySequences(bytes)
    const fixed = /[\xed\xc0]/.test(bytes) ? decodeUtf8Variants(bytes) : decodeUtf8(bytes)
    if (fixed !== undefined) return { fixed, latin1Possible }
  }
  return { latin1Possible }
}

function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR_RE, (sub) => (sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub))
}

/** Windows-1252 strict (undefined bytes fail), as Python's 'windows-1252' codec. */
function decodeCp1252Strict(bytes: ByteString): string | undefined {
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i)
    if (b === 0x1a) { out += '\x1a'; continue }
    const c = SLOPPY_1252.decode[b]
    // the sloppy codec keeps the Latin-1 character exactly where strict Windows-1252 has no character
    if (b >= 0x80 && c === String.fromCharCode(b)) return undefined
    out += c
  }
  return out
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || /^[\x00-\x7f]*$/.test(text) || !isBad(text)) return text
  const { fixed, latin1Possible } = tryCandidates(text)
  if (fixed !== undefined) return fixed
  UTF8_DETECTOR_RE.lastIndex = 0
  if (UTF8_DETECTOR_RE.test(text)) {
    const inconsistent = decodeInconsistentUtf8(text)
    if (inconsistent !== text) return inconsistent
  }
  if (latin1Possible) {
    const recoded = decodeCp1252Strict(text)
    if (recoded !== undefined && recoded !== text) return recoded
  }
  return fixC1Controls(text)
}

/** ftfy `fix_encoding` (Latin-1 / Windows-1252 mojibake only; see ftfy.ts). */
export function fixEncoding(text: string): string {
  let current = text
  for (;;) {
    const next = fixEncodingOneStep(current)
    if (next === current) return current
    current = next
  }
}

/** ftfy `fix_c1_controls`: U+0080..U+009F read as the Windows-1252 characters of those bytes (sloppy). */
export function fixC1Controls(text: string): string {
  return text.replace(/[\x80-\x9f]/g, (c) => SLOPPY_1252.decode[c.charCodeAt(0)])
}
