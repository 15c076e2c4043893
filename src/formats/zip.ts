/*
 * Zip reader for torch checkpoints. Spec: PKWARE APPNOTE.TXT 6.3.x (https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT):
 *   local header    PK\3\4  (4.3.7): version, flags, method, time, date, crc-32, sizes, name length n, extra length m (30 bytes), name, extra, data
 *   central header  PK\1\2  (4.3.12): the same plus comment length, disk, attributes and the local header's offset (46 bytes + n + m + k)
 *   end of central dir PK\5\6 (4.3.16): entry counts, central directory size and offset, comment (22 bytes + comment)
 *   zip64 (4.3.14, 4.3.15, 4.5.3): a PK\6\7 locator before PK\5\6 points at the PK\6\6 record; 0xFFFFFFFF fields move to
 *   the 0x0001 extra field (uncompressed size, compressed size, local header offset, in that order, only those needed).
 * torch writes stored entries with data descriptors (flag bit 3: sizes in the local header are 0), so sizes come from the
 * central directory; the local header is still checked (signature, name, method) before its data is used.
 * Every offset and size is checked against the file before it is read.
 */
import type { FileHandle } from 'node:fs/promises'
import { crc32, inflateRawSync } from 'node:zlib'
import { TensorFileError } from '../core/errors.ts'
import { readExactly } from './file-io.ts'

export interface ZipEntry {
  readonly name: string
  /** 0 = stored, 8 = deflate. */
  readonly method: 0 | 8
  readonly compressedSize: number
  readonly size: number
  readonly crc32: number
  readonly localHeaderOffset: number
}

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_ZIP64_EOCD = 0x06064b50
const MAX_COMMENT = 0xffff
const LOCAL_EXTRA_GUESS = 128

const u64 = (dv: DataView, at: number): number => {
  const v = dv.getBigUint64(at, true)
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v)
}

interface CentralDir { readonly offset: number; readonly size: number; readonly count: number }

export class ZipArchive {
  private readonly dataStarts = new Map<string, number>()
  private constructor(readonly file: string, private readonly fh: FileHandle, readonly entries: ReadonlyMap<string, ZipEntry>,
    private readonly centralOffset: number) {}

  static async open(file: string, fh: FileHandle, fileSize: number): Promise<ZipArchive> {
    const cd = await findCentralDirectory(file, fh, fileSize)
    const entries = parseCentralDirectory(file, await readExactly(fh, file, cd.size, cd.offset), cd)
    return new ZipArchive(file, fh, entries, cd.offset)
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name)
    if (!e) throw new TensorFileError(this.file, undefined, `zip entry "${name}" is missing`)
    return e
  }

  /** Absolute offset of the entry's data, after checking its local header against the central directory. */
  async dataStart(e: ZipEntry): Promise<number> {
    const cached = this.dataStarts.get(e.name)
    if (cached !== undefined) return cached
    const fail = (detail: string): never => { throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": ${detail}`) }
    if (e.localHeaderOffset + 30 > this.centralOffset) fail(`local header offset ${e.localHeaderOffset} is past the entries area`)
    // One read covers the header, the name and (usually) the extra field; torch pads the extra to align data to 64.
    const guess = Math.min(30 + new TextEncoder().encode(e.name).length + LOCAL_EXTRA_GUESS, this.centralOffset - e.localHeaderOffset)
    const head = await readExactly(this.fh, this.file, guess, e.localHeaderOffset)
    const dv = new DataView(head.buffer)
    if (dv.getUint32(0, true) !== SIG_LOCAL) fail(`no local header signature at offset ${e.localHeaderOffset}`)
    if (dv.getUint16(8, true) !== e.method) fail(`local header says method ${dv.getUint16(8, true)}, central directory says ${e.method}`)
    const nameLength = dv.getUint16(26, true)
    const start = e.localHeaderOffset + 30 + nameLength + dv.getUint16(28, true)
    const nameBytes = 30 + nameLength <= guess ? head.subarray(30, 30 + nameLength) : await readExactly(this.fh, this.file, nameLength, e.localHeaderOffset + 30)
    const name = new TextDecoder().decode(nameBytes)
    if (name !== e.name) fail(`local header names "${name}"`)
    if (start + e.compressedSize > this.centralOffset) {
      fail(`data (${e.compressedSize} bytes at offset ${start}) runs past the end of the entries area (${this.centralOffset}); the file is truncated or corrupt`)
    }
    this.dataStarts.set(e.name, start)
    return start
  }

  /** `length` bytes of the entry's uncompressed content from `offset`; stored entries are read positionally. */
  async read(e: ZipEntry, offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > e.size) {
      throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": read of ${length} bytes at ${offset} is outside its ${e.size} bytes`)
    }
    const start = await this.dataStart(e)
    if (e.method === 0) return readExactly(this.fh, this.file, length, start + offset)
    const raw = await readExactly(this.fh, this.file, e.compressedSize, start)
    let out: Uint8Array
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": inflates to more than the ${e.size} bytes the directory declares (a zip bomb or a corrupt file); refused`)
      }
      throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": deflate data is corrupt (${(err as Error).message})`)
    }
    if (out.length !== e.size) throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": inflates to ${out.length} bytes, the directory says ${e.size}`)
    return new Uint8Array(out.buffer, out.byteOffset + offset, length)
  }

  /** The whole entry, CRC-checked; refuses entries above `maxBytes` before allocating. */
  async readAll(e: ZipEntry, maxBytes: number): Promise<Uint8Array> {
    if (e.size > maxBytes) throw new TensorFileError(this.file, undefined, `zip entry "${e.name}" is ${e.size} bytes, above the ${maxBytes}-byte limit`)
    const data = await this.read(e, 0, e.size)
    if (crc32(data) !== e.crc32) throw new TensorFileError(this.file, undefined, `zip entry "${e.name}": CRC-32 mismatch; the file is corrupt`)
    return data
  }
}

async function findCentralDirectory(file: string, fh: FileHandle, fileSize: number): Promise<CentralDir> {
  const fail = (detail: string): never => { throw new TensorFileError(file, undefined, `not a readable zip archive: ${detail}`) }
  if (fileSize < 22) fail(`the file is only ${fileSize} bytes`)
  const tailLength = Math.min(fileSize, 22 + MAX_COMMENT + 20)
  const tailStart = fileSize - tailLength
  const tail = await readExactly(fh, file, tailLength, tailStart)
  const dv = new DataView(tail.buffer)
  let at = -1
  for (let i = tailLength - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD && i + 22 + dv.getUint16(i + 20, true) <= tailLength) { at = i; break }
  }
  if (at < 0) fail('no end-of-central-directory record (truncated file?)')
  let cd: CentralDir = { count: dv.getUint16(at + 10, true), size: dv.getUint32(at + 12, true), offset: dv.getUint32(at + 16, true) }
  if (at >= 20 && dv.getUint32(at - 20, true) === SIG_ZIP64_LOCATOR) {
    const recordAt = u64(dv, at - 12)
    if (recordAt + 56 > tailStart + at - 20) fail(`zip64 end record offset ${recordAt} is out of range`)
    const rec = new DataView((await readExactly(fh, file, 56, recordAt)).buffer)
    if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) fail(`no zip64 end record at offset ${recordAt}`)
    cd = { count: u64(rec, 32), size: u64(rec, 40), offset: u64(rec, 48) }
  }
  const eocdAbs = tailStart + at
  if (cd.offset + cd.size > eocdAbs) fail(`central directory (${cd.size} bytes at ${cd.offset}) runs past its end record at ${eocdAbs}`)
  if (cd.count * 46 > cd.size) fail(`${cd.count} entries cannot fit in a ${cd.size}-byte central directory`)
  return cd
}

function zip64Extra(extra: DataView, need: { size: boolean; compressed: boolean; offset: boolean }): number[] {
  for (let p = 0; p + 4 <= extra.byteLength;) {
    const id = extra.getUint16(p, true)
    const len = extra.getUint16(p + 2, true)
    if (id === 0x0001) {
      const out: number[] = []
      let q = p + 4
      for (const wanted of [need.size, need.compressed, need.offset]) {
        if (!wanted) continue
        if (q + 8 > p + 4 + len || q + 8 > extra.byteLength) return []
        out.push(u64(extra, q)); q += 8
      }
      return out
    }
    p += 4 + len
  }
  return []
}

/** deflate's best case: a 258-byte match in ~2 bits, so no stream inflates more than ~1032× (zlib's tech notes). */
const MAX_DEFLATE_RATIO = 1032

/**
 * Entry names are never used as paths (nothing is extracted), but a name that would escape a folder (`..`, an
 * absolute path, a drive or a backslash) or hides a NUL is never written by torch: such an archive is hostile.
 */
function checkName(name: string, fail: (detail: string) => never): void {
  if (name.includes('\0') || name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..')) {
    fail(`entry name ${JSON.stringify(name)} is an absolute path or escapes the archive (path traversal); refused`)
  }
}

function parseEntry(file: string, dv: DataView, p: number): { entry: ZipEntry; next: number } {
  const fail = (detail: string): never => { throw new TensorFileError(file, undefined, `zip central directory: ${detail}`) }
  if (p + 46 > dv.byteLength || dv.getUint32(p, true) !== SIG_CENTRAL) fail(`no entry header at offset ${p}`)
  const flags = dv.getUint16(p + 8, true)
  const method = dv.getUint16(p + 10, true)
  const nameLength = dv.getUint16(p + 28, true)
  const extraLength = dv.getUint16(p + 30, true)
  const next = p + 46 + nameLength + extraLength + dv.getUint16(p + 32, true)
  if (next > dv.byteLength) fail(`entry at offset ${p} runs past the directory`)
  const name = new TextDecoder().decode(new Uint8Array(dv.buffer, dv.byteOffset + p + 46, nameLength))
  if (flags & 1) fail(`entry "${name}" is encrypted`)
  checkName(name, fail)
  // Made on Unix (high byte of "version made by" = 3): the high 16 bits of the external attributes are st_mode.
  if (dv.getUint8(p + 5) === 3 && ((dv.getUint32(p + 38, true) >>> 16) & 0xf000) === 0xa000) {
    fail(`entry "${name}" is a symbolic link; torch checkpoints hold none (refused, never followed)`)
  }
  if (method !== 0 && method !== 8) fail(`entry "${name}" uses compression method ${method}; only stored (0) and deflate (8) are supported`)
  let size = dv.getUint32(p + 24, true)
  let compressedSize = dv.getUint32(p + 20, true)
  let localHeaderOffset = dv.getUint32(p + 42, true)
  const need = { size: size === 0xffffffff, compressed: compressedSize === 0xffffffff, offset: localHeaderOffset === 0xffffffff }
  if (need.size || need.compressed || need.offset) {
    const vals = zip64Extra(new DataView(dv.buffer, dv.byteOffset + p + 46 + nameLength, extraLength), need)
    if (vals.length !== Number(need.size) + Number(need.compressed) + Number(need.offset)) fail(`entry "${name}" lacks its zip64 sizes`)
    if (need.size) size = vals.shift() as number
    if (need.compressed) compressedSize = vals.shift() as number
    if (need.offset) localHeaderOffset = vals.shift() as number
  }
  if (method === 0 && size !== compressedSize) fail(`stored entry "${name}" has size ${size} but compressed size ${compressedSize}`)
  if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
    fail(`entry "${name}" claims ${size} bytes from ${compressedSize} compressed, beyond deflate's ${MAX_DEFLATE_RATIO}:1 maximum (a zip bomb or a corrupt directory)`)
  }
  if (![size, compressedSize, localHeaderOffset].every(Number.isSafeInteger)) fail(`entry "${name}" has sizes beyond 2^53`)
  return { entry: { name, method: method as 0 | 8, compressedSize, size, crc32: dv.getUint32(p + 16, true), localHeaderOffset }, next }
}

function parseCentralDirectory(file: string, bytes: Uint8Array, cd: CentralDir): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const entries = new Map<string, ZipEntry>()
  let p = 0
  for (let i = 0; i < cd.count; i++) {
    const { entry, next } = parseEntry(file, dv, p)
    if (entries.has(entry.name)) throw new TensorFileError(file, undefined, `zip central directory: entry "${entry.name}" occurs twice`)
    if (entry.localHeaderOffset + 30 + entry.compressedSize > cd.offset) {
      throw new TensorFileError(file, undefined, `zip entry "${entry.name}": data (${entry.compressedSize} bytes after offset ${entry.localHeaderOffset}) runs past the end of the entries area (${cd.offset}); the file is truncated or corrupt`)
    }
    entries.set(entry.name, entry)
    p = next
  }
  return entries
}
