/*
 * safetensors reader. Spec (https://github.com/huggingface/safetensors#format):
 *   8 bytes: N, an unsigned little-endian 64-bit integer, the size of the header;
 *   N bytes: a UTF-8 JSON object {TENSOR_NAME: {"dtype": "F16", "shape": [1, 16, 256], "data_offsets": [BEGIN, END]}, …}
 *            with an optional "__metadata__" map of string to string;
 *   rest:    the byte buffer; offsets are relative to its start; tensors are little-endian, row-major,
 *            and the buffer is fully indexed (no holes, no overlaps).
 * Only the header is read at open; tensor bytes are read by positional reads when asked for.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import { DTYPE_BYTES, isDType } from '../core/dtype.ts'
import type { TensorInfo, TensorSource } from './tensor-source.ts'
import { bytesToF32 } from './to-f32.ts'

/** Headers above this size are refused before any allocation (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000

export interface SafetensorsEntry extends TensorInfo {
  /** Absolute byte offset of the tensor's data in the file. */
  readonly start: number
}

export interface SafetensorsHeader {
  readonly headerLength: number
  readonly dataStart: number
  readonly metadata: Readonly<Record<string, string>>
  readonly entries: ReadonlyMap<string, SafetensorsEntry>
}

async function readExactly(fh: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) throw new TensorFileError(file, undefined, `file is truncated: expected ${length} bytes at offset ${position}`)
    done += bytesRead
  }
  return buf
}

/** Parses and validates the header; throws TensorFileError naming the file and tensor at the first problem. */
export function parseSafetensorsHeader(file: string, json: unknown, headerLength: number, fileSize: number): SafetensorsHeader {
  const fail = (detail: string, tensor?: string): never => { throw new TensorFileError(file, tensor, detail) }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header is not a JSON object')
  const dataStart = 8 + headerLength
  const dataSize = fileSize - dataStart
  let metadata: Record<string, string> = {}
  const entries = new Map<string, SafetensorsEntry>()
  const spans: { name: string; begin: number; end: number }[] = []
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') { metadata = parseMetadata(file, raw); continue }
    const { dtype, shape, data_offsets: offsets } = (typeof raw === 'object' && raw !== null ? raw : fail('entry is not an object', name)) as Record<string, unknown>
    if (!isDType(dtype)) fail(`unknown dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`, name)
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name)
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end]`, name)
    const dims = shape as number[]
    let count = 1
    for (const d of dims) { count *= d; if (!Number.isSafeInteger(count)) fail(`shape [${dims.join(', ')}] has more than 2^53 elements`, name) }
    const byteLength = count * DTYPE_BYTES[dtype as keyof typeof DTYPE_BYTES]
    if (!Number.isSafeInteger(byteLength)) fail(`shape [${dims.join(', ')}] is too large`, name)
    const [begin, end] = offsets as [number, number]
    if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`, name)
    if (end - begin !== byteLength) fail(`data_offsets span ${end - begin} bytes but ${dtype} [${dims.join(', ')}] needs ${byteLength}`, name)
    if (end > dataSize) fail(`data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes; the file may be truncated)`, name)
    entries.set(name, { dtype: dtype as TensorInfo['dtype'], shape: dims, byteLength, start: dataStart + begin })
    spans.push({ name, begin, end })
  }
  checkCoverage(file, spans, dataSize)
  return { headerLength, dataStart, metadata, entries }
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TensorFileError(file, '__metadata__', 'is not a JSON object')
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new TensorFileError(file, '__metadata__', `value of "${k}" is not a string`)
  }
  return raw as Record<string, string>
}

/** The data area must be tiled exactly: sorted spans touch end to start, first at 0, last at the end. */
function checkCoverage(file: string, spans: { name: string; begin: number; end: number }[], dataSize: number): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let pos = 0
  for (const s of spans) {
    if (s.end === s.begin && s.begin <= pos) continue
    if (s.begin < pos) throw new TensorFileError(file, s.name, `data_offsets [${s.begin}, ${s.end}] overlap the previous tensor (which ends at ${pos})`)
    if (s.begin > pos) throw new TensorFileError(file, s.name, `there is a hole of ${s.begin - pos} bytes before this tensor's data (offset ${pos})`)
    pos = s.end
  }
  if (pos !== dataSize) throw new TensorFileError(file, undefined, `${dataSize - pos} bytes after the last tensor are not indexed by the header`)
}

/** Reads only the 8-byte length and the JSON header. */
export async function readSafetensorsHeader(file: string, fh: FileHandle): Promise<SafetensorsHeader> {
  const { size } = await fh.stat()
  if (size < 8) throw new TensorFileError(file, undefined, `file is ${size} bytes, too short for a safetensors header`)
  const lenBytes = await readExactly(fh, file, 8, 0)
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) throw new TensorFileError(file, undefined, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit; this is not a valid safetensors file`)
  const headerLength = Number(n)
  if (8 + headerLength > size) throw new TensorFileError(file, undefined, `header length ${headerLength} runs past the end of the ${size}-byte file (truncated or not safetensors)`)
  const text = new TextDecoder('utf-8', { fatal: true })
  let json: unknown
  try {
    json = JSON.parse(text.decode(await readExactly(fh, file, headerLength, 8)))
  } catch (e) {
    if (e instanceof TensorFileError) throw e
    throw new TensorFileError(file, undefined, `header is not valid UTF-8 JSON (${(e as Error).message})`)
  }
  return parseSafetensorsHeader(file, json, headerLength, size)
}

export async function openSafetensors(file: string): Promise<SafetensorsSource> {
  let fh: FileHandle
  try { fh = await open(file, 'r') } catch (e) { throw new TensorFileError(file, undefined, `cannot open: ${(e as Error).message}`) }
  try {
    return new SafetensorsSource(file, fh, await readSafetensorsHeader(file, fh))
  } catch (e) {
    await fh.close()
    throw e
  }
}

export class SafetensorsSource implements TensorSource {
  readonly format = 'safetensors' as const
  constructor(readonly file: string, private readonly fh: FileHandle, readonly header: SafetensorsHeader) {}
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
  async readF32(key: string): Promise<Float32Array> {
    const e = this.info(key)
    const count = e.shape.reduce((a, b) => a * b, 1)
    return bytesToF32(e.dtype, await this.readRaw(key), count)
  }
  async close(): Promise<void> { await this.fh.close() }
}
