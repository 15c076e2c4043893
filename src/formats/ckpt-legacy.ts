/*
 * torch's legacy (pre-1.6, non-zip) format, torch/serialization.py _legacy_save @ v2.1: five pickles back to back —
 * the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, sys_info ({little_endian, type_sizes, …}), the
 * object (persistent ids ('storage', <storage class>, key, location, numel, view_metadata)), and the list of storage
 * keys — then, for each key in that order, an int64 element count followed by the storage's raw bytes.
 * Only the pickles and the 8-byte count headers are read at open; storage bytes are read on demand.
 */
import type { FileHandle } from 'node:fs/promises'
import { TensorFileError } from '../core/errors.ts'
import { DTYPE_BYTES } from '../core/dtype.ts'
import { readExactly } from './file-io.ts'
import { PickleTruncatedError, unpickle } from './pickle.ts'
import { TorchStorage, isTuple, type CallContext } from './pickle-types.ts'
import { MAX_PICKLE_BYTES, buildSource, storagePersistentLoad, type CkptSource, type StorageStore } from './ckpt.ts'

const MAGIC = 0x1950a86a20f9469cfc6cn
const PROTOCOL_VERSION = 1001

interface Pickles { readonly root: unknown; readonly keys: readonly string[]; readonly end: number; readonly little: boolean }

function parsePickles(file: string, bytes: Uint8Array, storages: Map<string, TorchStorage>): Pickles {
  const load = (start: number, what: string, persistent = false) => unpickle(bytes, {
    file, what, start, persistentLoad: persistent ? legacyPersistentLoad(storages) : undefined,
  })
  const magic = load(0, 'magic number pickle')
  if (magic.value !== MAGIC) throw new TensorFileError(file, undefined, 'pickle file without the torch magic number; not a torch checkpoint')
  const version = load(magic.end, 'protocol version pickle')
  if (version.value !== PROTOCOL_VERSION) throw new TensorFileError(file, undefined, `torch legacy protocol ${String(version.value)}, expected ${PROTOCOL_VERSION}`)
  const sysInfo = load(version.end, 'sys_info pickle')
  const little = !(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== false
  const main = load(sysInfo.end, 'object pickle', true)
  const keys = load(main.end, 'storage key list pickle')
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new TensorFileError(file, undefined, 'storage key list pickle is not a list of strings')
  }
  return { root: main.value, keys: keys.value as string[], end: keys.end, little }
}

function legacyPersistentLoad(storages: Map<string, TorchStorage>) {
  const inner = (pid: unknown, ctx: CallContext): TorchStorage => {
    if (isTuple(pid) && pid.length >= 6 && pid[5] !== null) return ctx.fail('storage views (view_metadata) of the legacy format are not supported')
    if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5) return ctx.fail('persistent id is not a storage tuple')
    const [, cls, key, , numel] = pid
    const known = storages.get(String(key))
    if (known) return known
    if (!(typeof cls === 'object' && cls !== null && 'behaviour' in cls) || typeof numel !== 'number') return ctx.fail('persistent id names no torch storage class')
    const behaviour = (cls as { behaviour: { kind: string; dtype?: string } }).behaviour
    if (behaviour.kind !== 'storage') return ctx.fail('persistent id names no torch storage class')
    const s = new TorchStorage(behaviour.dtype as TorchStorage['dtype'], String(key), numel)
    storages.set(s.key, s)
    return s
  }
  return inner
}

/** Reads growing prefixes of the file until all five pickles fit. */
async function readPickles(file: string, fh: FileHandle, size: number, storages: Map<string, TorchStorage>): Promise<Pickles> {
  for (let n = Math.min(size, 1 << 20); ; n = Math.min(size, n * 4)) {
    storages.clear()
    try {
      return parsePickles(file, await readExactly(fh, file, n, 0), storages)
    } catch (e) {
      if (!(e instanceof PickleTruncatedError) || n >= Math.min(size, MAX_PICKLE_BYTES)) throw e
    }
  }
}

export async function openTorchLegacy(file: string, fh: FileHandle, size: number): Promise<CkptSource> {
  const storages = new Map<string, TorchStorage>()
  const { root, keys, end, little } = await readPickles(file, fh, size, storages)
  const spans = new Map<string, { start: number; length: number }>()
  let pos = end
  for (const key of keys) {
    const s = storages.get(key)
    if (!s) throw new TensorFileError(file, undefined, `storage key "${key}" is listed but no tensor uses it`)
    const count = new DataView((await readExactly(fh, file, 8, pos)).buffer).getBigInt64(0, little)
    if (count !== BigInt(s.numel)) throw new TensorFileError(file, undefined, `storage "${key}" has ${count} elements in the file, the pickle says ${s.numel}`)
    const length = s.numel * DTYPE_BYTES[s.dtype]
    if (pos + 8 + length > size) throw new TensorFileError(file, undefined, `storage "${key}" (${length} bytes at offset ${pos + 8}) runs past the end of the ${size}-byte file`)
    spans.set(key, { start: pos + 8, length })
    pos += 8 + length
  }
  const store: StorageStore = {
    bigEndian: !little,
    byteLength: (key) => spans.get(key)?.length,
    read: (key, byteOffset, length) => readExactly(fh, file, length, (spans.get(key)?.start ?? 0) + byteOffset),
    close: () => fh.close(),
  }
  return buildSource(file, root, store)
}
