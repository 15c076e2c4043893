/*
 * Legacy torch checkpoints (.ckpt .pt .bin .pth) as a lazy TensorSource.
 * torch zip format (torch/serialization.py _save / _load @ v2.1): a zip holding `<name>/data.pkl` (the pickled object;
 * tensors rebuilt by torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …) with persistent ids
 * ('storage', torch.HalfStorage, key, location, numel)), `<name>/data/<key>` (each storage's raw bytes), and, since
 * torch 1.13, `<name>/byteorder` ("little" or "big"; absent means little). Offsets, sizes and strides count elements.
 * Only data.pkl is read at open; each tensor is validated against its storage (offset + Σ (size-1)·stride < numel,
 * and numel × element size within the stored bytes) and read later by positional reads; strided views are made
 * contiguous on read.
 */
import type { FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import { DTYPE_BYTES } from '../core/dtype.ts'
import type { TensorInfo, TensorSource } from './tensor-source.ts'
import { bytesToF32 } from './to-f32.ts'
import { ZipArchive } from './zip.ts'
import { unpickle } from './pickle.ts'
import { PyGlobal, TorchStorage, TorchTensor, isTuple, type CallContext } from './pickle-types.ts'
import { flattenCheckpoint } from './ckpt-flatten.ts'

/** data.pkl above this size is refused (an SDXL checkpoint's is about 200 KB). */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024

/**
 * A view that repeats its storage's elements (stride 0, as `expand()` makes) is made contiguous on read, so its size is
 * not bounded by the file; above this many bytes it is refused instead of allocated.
 */
export const MAX_BROADCAST_BYTES = 64 * 1024 * 1024

/** Where storages' bytes live: zip entries, or ranges of a legacy file. */
export interface StorageStore {
  /** Stored byte length of storage `key`, or undefined when the file has no such storage. */
  byteLength(key: string): number | undefined
  read(key: string, byteOffset: number, length: number): Promise<Uint8Array>
  /** Storages were written big-endian (their bytes are swapped on read). */
  readonly bigEndian: boolean
  close(): Promise<void>
}

export interface CkptEntry extends TensorInfo {
  readonly tensor: TorchTensor
  readonly count: number
}

/** Resolves ('storage', <storage class>, key, location, numel) persistent ids, one TorchStorage per key. */
export function storagePersistentLoad(storages: Map<string, TorchStorage>) {
  return (pid: unknown, ctx: CallContext): TorchStorage => {
    if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5) return ctx.fail(`persistent id is not a ('storage', type, key, location, numel) tuple`)
    const [, cls, key, , numel] = pid
    if (!(cls instanceof PyGlobal) || cls.behaviour.kind !== 'storage') return ctx.fail('persistent id names no torch storage class')
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return ctx.fail('persistent id has a bad key or size')
    const known = storages.get(key)
    if (known && (known.dtype !== cls.behaviour.dtype || known.numel !== numel)) return ctx.fail(`storage "${key}" is declared twice with different types or sizes`)
    const s = known ?? new TorchStorage(cls.behaviour.dtype, key, numel)
    storages.set(key, s)
    return s
  }
}

const contiguousStrides = (shape: readonly number[]): number[] => {
  const out = new Array<number>(shape.length)
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) { out[i] = acc; acc *= shape[i] }
  return out
}

/** Checks one tensor against its storage; the result is what `info()` reports. */
export function checkTensor(file: string, key: string, t: TorchTensor, store: StorageStore): CkptEntry {
  const fail = (detail: string): never => { throw new TensorFileError(file, key, detail) }
  const { storage, shape, stride, offset } = t
  const width = DTYPE_BYTES[storage.dtype]
  let count = 1
  let last = offset
  for (let i = 0; i < shape.length; i++) {
    count *= shape[i]
    last += (shape[i] - 1) * stride[i]
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(last)) fail(`shape [${shape.join(', ')}] is too large`)
  }
  // Bounded in its float32 form too: every weight is widened to float32 on load, so a 1-byte bool or fp8 view
  // materialises four times its stored bytes.
  const materialised = count * Math.max(width, 4)
  if (count > storage.numel && materialised > MAX_BROADCAST_BYTES) {
    fail(`size [${shape.join(', ')}] with stride [${stride.join(', ')}] repeats the ${storage.numel} elements of storage "${storage.key}" `
      + `(a stride of 0 or overlapping strides): reading it would materialise ${materialised} bytes, above the ${MAX_BROADCAST_BYTES}-byte limit. `
      + 'Hint: re-save the tensor with .contiguous()')
  }
  if (count > 0 && last >= storage.numel) {
    fail(`size [${shape.join(', ')}] with stride [${stride.join(', ')}] at offset ${offset} reaches element ${last} of storage "${storage.key}", which has ${storage.numel} elements`)
  }
  if (!storage.bytes) {
    const stored = store.byteLength(storage.key)
    if (stored === undefined) fail(`its storage "${storage.key}" is missing from the file`)
    else if (stored < storage.numel * width) fail(`storage "${storage.key}" holds ${stored} bytes, but ${storage.numel} ${storage.dtype} elements need ${storage.numel * width}`)
  }
  return { dtype: storage.dtype, shape, byteLength: count * width, count, tensor: t }
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  if (width === 1) return bytes
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse()
  return bytes
}

/** Copies a strided view out of `span` (the storage from the view's first element) into contiguous order. */
function gather(span: Uint8Array, e: CkptEntry, width: number): Uint8Array {
  const { shape, stride } = e.tensor
  const out = new Uint8Array(e.byteLength)
  const idx = new Array<number>(shape.length).fill(0)
  let src = 0
  for (let n = 0; n < e.count; n++) {
    out.set(span.subarray(src * width, src * width + width), n * width)
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++
      src += stride[d]
      if (idx[d] < shape[d]) break
      src -= stride[d] * shape[d]
      idx[d] = 0
    }
  }
  return out
}

export class CkptSource implements TensorSource {
  readonly format = 'pickle' as const
  constructor(readonly file: string, private readonly store: StorageStore, private readonly entries: ReadonlyMap<string, CkptEntry>,
    readonly metadata: Readonly<Record<string, string>>) {}

  keys(): readonly string[] { return [...this.entries.keys()] }
  has(key: string): boolean { return this.entries.has(key) }
  info(key: string): CkptEntry {
    const e = this.entries.get(key)
    if (!e) throw new TensorFileError(this.file, key, 'no such tensor in this file')
    return e
  }

  async readRaw(key: string): Promise<Uint8Array> {
    const e = this.info(key)
    if (e.count === 0) return new Uint8Array(0)
    const { storage, shape, stride, offset } = e.tensor
    const width = DTYPE_BYTES[storage.dtype]
    const last = offset + shape.reduce((a, s, i) => a + (s - 1) * stride[i], 0)
    const spanBytes = (last - offset + 1) * width
    const span = storage.bytes
      ? storage.bytes.slice(offset * width, offset * width + spanBytes)
      : await this.store.read(storage.key, offset * width, spanBytes)
    const want = contiguousStrides(shape)
    const contiguous = shape.every((s, i) => s === 1 || stride[i] === want[i])
    const out = contiguous ? span : gather(span, e, width)
    return this.store.bigEndian && !storage.bytes ? swapBytes(out, width) : out
  }

  async readF32(key: string): Promise<Float32Array> {
    const e = this.info(key)
    return bytesToF32(e.dtype, await this.readRaw(key), e.count)
  }

  async close(): Promise<void> { await this.store.close() }
}

/** Flattens the unpickled object and validates every tensor against the store. */
export function buildSource(file: string, root: unknown, store: StorageStore): CkptSource {
  const flat = flattenCheckpoint(file, root)
  const entries = new Map<string, CkptEntry>()
  for (const [key, t] of flat.tensors) entries.set(key, checkTensor(file, key, t, store))
  return new CkptSource(file, store, entries, flat.metadata)
}

function zipStore(zip: ZipArchive, prefix: string, bigEndian: boolean, fh: FileHandle): StorageStore {
  const name = (key: string): string => `${prefix}/data/${key}`
  return {
    bigEndian,
    byteLength: (key) => zip.entries.get(name(key))?.size,
    read: (key, byteOffset, length) => zip.read(zip.entry(name(key)), byteOffset, length),
    close: () => fh.close(),
  }
}

/** Opens a torch zip checkpoint; `fh` is owned by the returned source (closed by the caller on error). */
export async function openTorchZip(file: string, fh: FileHandle, size: number): Promise<CkptSource> {
  const zip = await ZipArchive.open(file, fh, size)
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n))
  if (pkls.length !== 1) {
    throw new TensorFileError(file, undefined, pkls.length === 0
      ? 'zip archive has no <name>/data.pkl; it is not a torch checkpoint'
      : `zip archive holds ${pkls.length} data.pkl files (${pkls.slice(0, 3).join(', ')}); expected one`)
  }
  const prefix = pkls[0].slice(0, -'/data.pkl'.length)
  const order = zip.entries.get(`${prefix}/byteorder`)
  const byteorder = order ? new TextDecoder().decode(await zip.readAll(order, 16)).trim() : 'little'
  if (byteorder !== 'little' && byteorder !== 'big') throw new TensorFileError(file, undefined, `${prefix}/byteorder says "${byteorder}", expected little or big`)
  const bytes = await zip.readAll(zip.entry(pkls[0]), MAX_PICKLE_BYTES)
  const storages = new Map<string, TorchStorage>()
  const { value } = unpickle(bytes, { file, what: pkls[0], persistentLoad: storagePersistentLoad(storages) })
  return buildSource(file, value, zipStore(zip, prefix, byteorder === 'big', fh))
}

