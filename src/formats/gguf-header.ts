/*
 * GGUF header parser (spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), versions 2 and 3
 * (little-endian; v1's 32-bit counts and big-endian files are refused with a hint):
 *   u32 magic "GGUF"; u32 version; u64 tensor_count; u64 metadata_kv_count;
 *   metadata_kv[]: gguf_string key; u32 value_type; value
 *     value_type: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array (u32 type, u64 n, n values),
 *                 10 u64, 11 i64, 12 f64;   gguf_string = u64 length + UTF-8 bytes (no NUL)
 *   tensor_info[]: gguf_string name; u32 n_dims (<= 4); u64 ne[n_dims] (ne[0] varies fastest); u32 ggml_type;
 *                  u64 offset (from the start of the data section, a multiple of the alignment)
 *   padding to `general.alignment` (u32, default 32), then the data section.
 * Every count, length and offset is checked against the bytes the file has left before it is used, so a hostile
 * header cannot make the reader allocate or loop beyond the file's size.
 */
import { TensorFileError } from '../core/errors.ts'
import { GGML_TYPES, GGML_UNSUPPORTED, type GgmlType } from './gguf-quant.ts'

export interface GgufTensor {
  readonly name: string
  /** torch order (ggml's ne reversed). */
  readonly shape: readonly number[]
  readonly type: GgmlType
  readonly count: number
  /** Absolute byte offset and length of the stored data. */
  readonly start: number
  readonly byteLength: number
}

export interface GgufHeader {
  readonly version: number
  readonly metadata: Readonly<Record<string, string>>
  readonly alignment: number
  readonly dataStart: number
  readonly tensors: ReadonlyMap<string, GgufTensor>
}

const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }
const TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64']
/** Arrays longer than this are summarised in `metadata` (a tokenizer vocabulary is not a setting). */
const ARRAY_SHOWN = 64

/** Thrown when the header runs past the bytes read so far (the caller reads more and parses again). */
export class NeedMoreBytes extends Error {
  constructor(readonly what: string) { super(`GGUF header continues past the bytes read (at ${what})`) }
}

/** Reads little-endian fields from the header bytes, failing with the file's name when they run out. */
class Cursor {
  pos = 0
  private readonly dv: DataView
  constructor(private readonly file: string, private readonly bytes: Uint8Array, private readonly fileSize: number) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  fail(detail: string, tensor?: string): never { throw new TensorFileError(this.file, tensor, detail) }

  need(n: number, what: string): void {
    if (this.pos + n <= this.bytes.byteLength) return
    if (this.bytes.byteLength < this.fileSize) throw new NeedMoreBytes(what)
    this.fail(`file is truncated: ${what} at offset ${this.pos} needs ${n} bytes, the file has ${this.fileSize - this.pos} left`)
  }

  u32(what: string): number { this.need(4, what); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v }

  /** A u64 that must be a count or offset no larger than `max` (the bytes that could possibly back it). */
  u64(what: string, max: number): number {
    this.need(8, what)
    const v = this.dv.getBigUint64(this.pos, true)
    this.pos += 8
    if (v > BigInt(max)) this.fail(`${what} is ${v}, more than the ${max} the ${this.fileSize}-byte file can hold`)
    return Number(v)
  }

  string(what: string): string {
    const n = this.u64(`length of ${what}`, this.fileSize - this.pos - 8)
    this.need(n, what)
    const s = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes.subarray(this.pos, this.pos + n))
    this.pos += n
    return s
  }

  scalar(type: number, what: string): string {
    const size = SCALAR_BYTES[type]
    this.need(size, what)
    const p = this.pos
    this.pos += size
    switch (type) {
      case 0: return String(this.dv.getUint8(p))
      case 1: return String(this.dv.getInt8(p))
      case 2: return String(this.dv.getUint16(p, true))
      case 3: return String(this.dv.getInt16(p, true))
      case 4: return String(this.dv.getUint32(p, true))
      case 5: return String(this.dv.getInt32(p, true))
      case 6: return String(this.dv.getFloat32(p, true))
      case 7: return this.dv.getUint8(p) ? 'true' : 'false'
      case 10: return String(this.dv.getBigUint64(p, true))
      case 11: return String(this.dv.getBigInt64(p, true))
      default: return String(this.dv.getFloat64(p, true))
    }
  }

  value(type: number, key: string): string {
    if (type === 8) return this.string(`metadata "${key}"`)
    if (type === 9) return this.array(key)
    if (!(type in SCALAR_BYTES)) this.fail(`metadata "${key}" has value type ${type}; GGUF defines 0 to 12`)
    return this.scalar(type, `metadata "${key}"`)
  }

  array(key: string): string {
    const type = this.u32(`element type of metadata "${key}"`)
    if (type === 9) this.fail(`metadata "${key}" is an array of arrays, which sdloom does not read`)
    const min = type === 8 ? 8 : SCALAR_BYTES[type]
    if (min === undefined) this.fail(`metadata "${key}" is an array of type ${type}; GGUF defines 0 to 12`)
    const n = this.u64(`length of metadata array "${key}"`, Math.floor((this.fileSize - this.pos - 8) / min))
    const shown: string[] = []
    for (let i = 0; i < n; i++) {
      const v = this.value(type, key)
      if (i < ARRAY_SHOWN) shown.push(type === 8 ? JSON.stringify(v) : v)
    }
    return n <= ARRAY_SHOWN ? `[${shown.join(', ')}]` : `[${n} × ${TYPE_NAMES[type]}]`
  }
}

function tensorInfo(c: Cursor, index: number): Omit<GgufTensor, 'start'> & { offset: number } {
  const name = c.string(`name of tensor ${index}`)
  const nDims = c.u32(`n_dims of tensor "${name}"`)
  if (nDims < 1 || nDims > 4) c.fail(`has ${nDims} dimensions; GGUF (ggml) tensors have 1 to 4`, name)
  const ne: number[] = []
  let count = 1
  for (let i = 0; i < nDims; i++) {
    ne.push(c.u64(`dimension ${i} of tensor "${name}"`, Number.MAX_SAFE_INTEGER))
    count *= ne[i]
    if (!Number.isSafeInteger(count)) c.fail(`shape [${ne.join(', ')}] has more than 2^53 elements`, name)
  }
  const id = c.u32(`type of tensor "${name}"`)
  const type = GGML_TYPES[id]
  if (!type) {
    c.fail(`ggml type ${GGML_UNSUPPORTED[id] ?? id} is not supported; sdloom reads ${Object.values(GGML_TYPES).map((t) => t.name).join(', ')}. `
      + 'Hint: convert the model again with stable-diffusion.cpp (`sd -M convert --type q8_0`) or use the .safetensors original.', name)
  }
  if (ne[0] % type.blockSize !== 0) c.fail(`${type.name} stores blocks of ${type.blockSize} values, but its rows have ${ne[0]}`, name)
  const offset = c.u64(`data offset of tensor "${name}"`, Number.MAX_SAFE_INTEGER)
  return { name, shape: ne.reverse(), type, count, byteLength: (count / type.blockSize) * type.typeSize, offset }
}

/** Parses `bytes` (the file's first bytes: all of a small file, else up to the header limit). */
export function parseGgufHeader(file: string, bytes: Uint8Array, fileSize: number): GgufHeader {
  const c = new Cursor(file, bytes, fileSize)
  if (c.u32('magic') !== 0x46554747) c.fail('not a GGUF file (no "GGUF" magic)')
  const version = c.u32('version')
  if (version === 1) c.fail('GGUF version 1 (32-bit counts) is not supported. Hint: re-save it with a current ggml tool.')
  if (version !== 2 && version !== 3) {
    c.fail(version > 0xffff ? 'is a big-endian GGUF file; sdloom reads little-endian GGUF' : `GGUF version ${version} is not supported (2 and 3 are)`)
  }
  const tensorCount = c.u64('tensor_count', Math.floor(fileSize / 24))          // each tensor info is at least 24 bytes
  const kvCount = c.u64('metadata_kv_count', Math.floor(fileSize / 13))         // each kv is at least 13 bytes
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>
  let alignment = 32
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key ${i}`)
    const type = c.u32(`value type of metadata "${key}"`)
    metadata[key] = c.value(type, key)
    if (key === 'general.alignment') {
      alignment = Number(metadata[key])
      if (type !== 4 || alignment === 0 || (alignment & (alignment - 1)) !== 0) c.fail(`general.alignment must be a u32 power of two, found ${metadata[key]}`)
    }
  }
  const infos = Array.from({ length: tensorCount }, (_, i) => tensorInfo(c, i))
  const dataStart = Math.ceil(c.pos / alignment) * alignment
  return { version, metadata, alignment, dataStart, tensors: placeTensors(c, infos, dataStart, fileSize, alignment) }
}

/** Checks every tensor's data range: aligned, inside the file, no overlaps, no duplicate names. */
function placeTensors(c: Cursor, infos: ReturnType<typeof tensorInfo>[], dataStart: number, fileSize: number, alignment: number): Map<string, GgufTensor> {
  const tensors = new Map<string, GgufTensor>()
  for (const { offset, ...t } of infos) {
    if (tensors.has(t.name)) c.fail('appears twice in the GGUF header', t.name)
    if (offset % alignment !== 0) c.fail(`data offset ${offset} is not a multiple of the alignment ${alignment}`, t.name)
    const start = dataStart + offset
    if (start + t.byteLength > fileSize) {
      c.fail(`data [${start}, ${start + t.byteLength}) runs past the end of the ${fileSize}-byte file; the file may be truncated`, t.name)
    }
    tensors.set(t.name, { ...t, start })
  }
  const sorted = [...tensors.values()].sort((a, b) => a.start - b.start)
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]
    if (sorted[i].start < prev.start + prev.byteLength && sorted[i].byteLength > 0) {
      c.fail(`data at ${sorted[i].start} overlaps tensor "${prev.name}" (which ends at ${prev.start + prev.byteLength})`, sorted[i].name)
    }
  }
  return tensors
}
