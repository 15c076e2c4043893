/*
 * safetensors reader. Spec (https://github.com/huggingface/safetensors#format):
 *   8 bytes: N, an unsigned little-endian 64-bit integer, the size of the header;
 *   N bytes: a UTF-8 JSON object {TENSOR_NAME: {"dtype": "F16", "shape": [1, 16, 256], "data_offsets": [BEGIN, END]}, …}
 *            with an optional "__metadata__" map of string to string;
 *   rest:    the byte buffer; offsets are relative to its start; tensors are little-endian, row-major,
 *            and the buffer is fully indexed (no holes, no overlaps).
 * Only the header is read at open; tensor bytes are read by positional reads when asked for.
 * Every number in the header is validated before it is used (sizes, offsets, element counts below 2^53).
 */
import type { FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import { DTYPE_BYTES, isDType, type DType } from '../core/dtype.ts'
import type { TensorInfo, TensorSource } from './tensor-source.ts'
import { bytesToF32, isNarrowFloat, widenInPlace } from './to-f32.ts'
import { openForRead, readExactly, readInto } from './file-io.ts'
import { mapFile } from './file-map.ts'
import { clip, jsonPreview } from './json-preview.ts'

/** Headers above this size are refused before any allocation (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000

export interface SafetensorsEntry extends TensorInfo {
  /** Absolute byte offset of the tensor's data in the file. */
  readonly start: number
  /** Number of elements (product of the shape). */
  readonly count: number
}

export interface SafetensorsHeader {
  readonly headerLength: number
  readonly dataStart: number
  readonly metadata: Readonly<Record<string, string>>
  /** In data order (ascending offset), which is the order the bytes sit in the file. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>
}

interface Span { readonly name: string; readonly begin: number; readonly end: number; readonly entry: SafetensorsEntry }

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Element count of a shape, refusing products that are not exact in a double (above 2^53). */
export function checkedCount(shape: readonly number[], fail: (detail: string) => never): number {
  let count = 1
  for (const d of shape) {
    count *= d
    if (!Number.isSafeInteger(count)) fail(`shape [${shape.join(', ')}] has more than 2^53 elements`)
  }
  return count
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number): Span {
  const fail = (detail: string): never => { throw new TensorFileError(file, clip(name), detail) }
  if (!isPlainObject(raw)) return fail(`header entry is ${jsonPreview(raw, 40)}, expected {dtype, shape, data_offsets}`)
  const { dtype, shape, data_offsets: offsets } = raw
  for (const field of ['dtype', 'shape', 'data_offsets']) if (raw[field] === undefined) fail(`header entry has no "${field}"; expected {dtype, shape, data_offsets}`)
  if (!isDType(dtype)) fail(`unknown dtype ${jsonPreview(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`)
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape ${jsonPreview(shape)} is not a list of non-negative integers`)
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`data_offsets ${jsonPreview(offsets)} is not [begin, end] with non-negative integers`)
  }
  const dims = shape as number[]
  const count = checkedCount(dims, fail)
  const byteLength = count * DTYPE_BYTES[dtype as DType]
  if (!Number.isSafeInteger(byteLength)) fail(`shape [${dims.join(', ')}] of ${dtype} is more than 2^53 bytes`)
  const [begin, end] = offsets as [number, number]
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`)
  if (end - begin !== byteLength) fail(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} [${dims.join(', ')}] needs ${byteLength}`)
  const entry = { dtype: dtype as DType, shape: dims, byteLength, count, start: dataStart + begin }
  return { name, begin, end, entry }
}

/** Parses and validates the header; throws TensorFileError naming the file and tensor at the first problem. */
export function parseSafetensorsHeader(file: string, json: unknown, headerLength: number, fileSize: number): SafetensorsHeader {
  if (!isPlainObject(json)) {
    throw new TensorFileError(file, undefined, `header is ${Array.isArray(json) ? 'a JSON array' : `JSON ${typeof json}`}, expected a JSON object of tensors`)
  }
  const dataStart = 8 + headerLength
  const dataSize = fileSize - dataStart
  let metadata: Record<string, string> = {}
  const spans: Span[] = []
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(file, raw)
    else spans.push(parseEntry(file, name, raw, dataStart))
  }
  checkCoverage(file, spans, dataSize)
  return { headerLength, dataStart, metadata, entries: new Map(spans.map((s) => [s.name, s.entry])) }
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (!isPlainObject(raw)) throw new TensorFileError(file, '__metadata__', `is ${jsonPreview(raw, 40)}, expected a JSON object of strings`)
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new TensorFileError(file, '__metadata__', `value of "${clip(k)}" is ${jsonPreview(v, 40)}, expected a string`)
    out[k] = v
  }
  return out
}

/** The data area must be tiled exactly: sorted spans touch end to start, first at 0, last at the end. Sorts `spans`. */
function checkCoverage(file: string, spans: Span[], dataSize: number): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let pos = 0
  for (const s of spans) {
    if (s.end > dataSize) {
      throw new TensorFileError(file, clip(s.name), `data_offsets [${s.begin}, ${s.end}] run past the end of the data area (${dataSize} bytes); the file may be truncated`)
    }
    if (s.end === s.begin && s.begin <= pos) continue
    if (s.begin < pos) throw new TensorFileError(file, clip(s.name), `data_offsets [${s.begin}, ${s.end}] overlap the previous tensor's data (which ends at ${pos})`)
    if (s.begin > pos) throw new TensorFileError(file, clip(s.name), `hole of ${s.begin - pos} unindexed bytes before this tensor's data (offsets ${pos} to ${s.begin})`)
    pos = s.end
  }
  if (pos !== dataSize) throw new TensorFileError(file, undefined, `${dataSize - pos} bytes after the last tensor are not indexed by the header`)
}

/** Reads only the 8-byte length and the JSON header, and validates both against the file size. */
export async function readSafetensorsHeader(file: string, fh: FileHandle, size: number): Promise<SafetensorsHeader> {
  if (size < 8) throw new TensorFileError(file, undefined, `file is ${size} bytes, too short for a safetensors header`)
  const lenBytes = await readExactly(fh, file, 8, 0)
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new TensorFileError(file, undefined, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit; this is not a valid safetensors file`)
  }
  const headerLength = Number(n)
  if (8 + headerLength > size) {
    throw new TensorFileError(file, undefined, `header length ${headerLength} runs past the end of the ${size}-byte file (truncated, or not a safetensors file)`)
  }
  const bytes = await readExactly(fh, file, headerLength, 8)
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new TensorFileError(file, undefined, `header is not valid UTF-8 JSON (${(e as Error).message})`)
  }
  return parseSafetensorsHeader(file, json, headerLength, size)
}

export async function openSafetensors(file: string): Promise<SafetensorsSource> {
  const { fh, size } = await openForRead(file)
  try {
    return new SafetensorsSource(file, fh, await readSafetensorsHeader(file, fh, size), size)
  } catch (e) {
    await fh.close()
    throw e
  }
}

export class SafetensorsSource implements TensorSource {
  readonly format = 'safetensors' as const
  /** The file mapped read-only (file-map.ts): undefined until asked for, null where mapping is unavailable. */
  private mapped: Uint8Array | null | undefined

  /** `size`: the file size the header was validated against (a mapping is only made while the file still has it). */
  constructor(readonly file: string, private readonly fh: FileHandle, readonly header: SafetensorsHeader, private readonly size?: number) {}
  get metadata(): Readonly<Record<string, string>> { return this.header.metadata }
  keys(): readonly string[] { return [...this.header.entries.keys()] }
  has(key: string): boolean { return this.header.entries.has(key) }
  info(key: string): SafetensorsEntry {
    const e = this.header.entries.get(key)
    if (!e) throw new TensorFileError(this.file, key, 'no such tensor in this file')
    return e
  }
  async readRaw(key: string): Promise<Uint8Array> {
    const e = this.info(key)
    return readExactly(this.fh, this.file, e.byteLength, e.start)
  }
  async readRawInto(key: string, dst: Uint8Array): Promise<Uint8Array> {
    const e = this.info(key)
    if (dst.byteLength < e.byteLength) throw new RangeError(`readRawInto: ${dst.byteLength}-byte buffer for ${e.byteLength} bytes of ${key}`)
    const view = dst.subarray(0, e.byteLength)
    await readInto(this.fh, this.file, view, e.start)
    return view
  }
  /** F32 is read straight into the result and F16/BF16/F8 into its tail, then widened in place (to-f32.ts). */
  async readF32(key: string): Promise<Float32Array> {
    const e = this.info(key)
    if (e.dtype !== 'F32' && !isNarrowFloat(e.dtype)) return bytesToF32(e.dtype, await this.readRaw(key), e.count)
    const out = new Float32Array(e.count)
    await readInto(this.fh, this.file, new Uint8Array(out.buffer, out.byteLength - e.byteLength, e.byteLength), e.start)
    if (isNarrowFloat(e.dtype)) widenInPlace(e.dtype, out, e.count)
    return out
  }
  /**
   * The stored bytes as a view of the mapped file (no copy; the page cache's pages), or undefined where the file
   * cannot be mapped. The view stays valid after close().
   */
  storedView(key: string): Uint8Array | undefined {
    const e = this.info(key)
    if (this.mapped === undefined) this.mapped = (this.size !== undefined ? mapFile(this.file, this.size) : undefined) ?? null
    return this.mapped?.subarray(e.start, e.start + e.byteLength)
  }
  async close(): Promise<void> { await this.fh.close() }
}
