/**
 * The pickle VM, then the checkpoint flattening and every tensor's view check and read against an in-memory
 * storage store. Structure-aware cases are opcode streams: every opcode with hostile arguments (lengths past the
 * end, 2^63, negative), MARK/containers nested deep, memo abuse, and GLOBAL/INST/STACK_GLOBAL naming both
 * allow-listed tensor rebuilders and what a malicious pickle names (os.system, builtins.eval, …).
 */
import fc from 'fast-check'
import { unpickle } from '../../../src/formats/pickle.ts'
import { buildSource, storagePersistentLoad, type StorageStore } from '../../../src/formats/ckpt.ts'
import type { TorchStorage } from '../../../src/formats/pickle-types.ts'
import type { FuzzTarget } from '../harness.ts'
import { mutated, INTERESTING } from '../mutate.ts'
import { counting, fixtureCheckpoints, refBytes, zipEntries } from '../seeds.ts'

const GLOBALS = [
  'torch._utils\n_rebuild_tensor_v2', 'torch._utils\n_rebuild_parameter', 'torch._utils\n_rebuild_device_tensor_from_numpy',
  'torch\nFloatStorage', 'torch\nHalfStorage', 'torch\nLongStorage', 'torch\nSize', 'torch\nfloat16', 'collections\nOrderedDict',
  'numpy.core.multiarray\n_reconstruct', 'numpy.core.multiarray\nscalar', 'numpy\ndtype', 'numpy\nndarray', '_codecs\nencode',
  'builtins\nset', 'torch.nn.modules.container\nParameterDict', 'os\nsystem', 'posix\nsystem', 'subprocess\nPopen',
  'builtins\neval', 'builtins\nexec', 'builtins\ngetattr', '__builtin__\n__import__', 'torch\nload', 'collections\n__proto__',
  'torch._utils\nconstructor', 'numpy\n__class__',
]

const enc = (s: string): number[] => [...new TextEncoder().encode(s)]
function le(v: bigint, width: number): number[] {
  const out = new Array<number>(width)
  for (let i = 0; i < width; i++) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}
const line = fc.oneof(fc.constantFrom('0', '1', '-1', '00', '01', '3.5', 'nan', 'inf', "'a'", '"b\\x41"', "'\\q'", '99999999999999999999',
  'x'.repeat(3100)), fc.string({ maxLength: 10 }))
const len = fc.oneof(fc.nat({ max: 12 }).map(BigInt), fc.constantFrom(...INTERESTING))
const body = fc.uint8Array({ maxLength: 12 })

/** One opcode with its argument bytes. */
const opcode: fc.Arbitrary<number[]> = fc.oneof(
  { arbitrary: fc.constantFrom(...'(.012N\x88\x89)t\x85\x86\x87]le}dsu\x8f\x90\x91R\x81\x92bQ\x94\x93o\x97\x98'.split('')).map(enc1), weight: 12 },
  { arbitrary: fc.tuple(fc.constantFrom('K', 'h', 'q', 'C', 'U', '\x8c', '\x8a', '\x80', '\x82'), fc.nat({ max: 255 }), body).map(([o, n, b]) => [o.charCodeAt(0), n, ...b]), weight: 4 },
  { arbitrary: fc.tuple(fc.constantFrom('M', '\x83'), fc.nat({ max: 0xffff })).map(([o, n]) => [o.charCodeAt(0), ...le(BigInt(n), 2)]), weight: 1 },
  { arbitrary: fc.tuple(fc.constantFrom('J', 'j', 'r', 'X', 'B', 'T', '\x8b', '\x84'), len, body).map(([o, n, b]) => [o.charCodeAt(0), ...le(n, 4), ...b]), weight: 4 },
  { arbitrary: fc.tuple(fc.constantFrom('\x8d', '\x8e', '\x96', '\x95', 'G'), len, body).map(([o, n, b]) => [o.charCodeAt(0), ...le(n, 8), ...b]), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom('I', 'L', 'F', 'S', 'V', 'g', 'p', 'P'), line).map(([o, l]) => [o.charCodeAt(0), ...enc(`${l}\n`)]), weight: 3 },
  { arbitrary: fc.tuple(fc.constantFrom('c', 'i'), fc.constantFrom(...GLOBALS)).map(([o, g]) => [o.charCodeAt(0), ...enc(`${g}\n`)]), weight: 4 },
  { arbitrary: fc.constantFrom(...GLOBALS).map((g) => { const [m, n] = g.split('\n'); return [...strOp(m), ...strOp(n), 0x93] }), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom('(', ']', '}', ')'), fc.integer({ min: 990, max: 1100 })).map(([o, n]) => new Array<number>(n).fill(o.charCodeAt(0))), weight: 1 },
)
function enc1(c: string): number[] { return [c.charCodeAt(0)] }
function strOp(s: string): number[] { const b = enc(s); return [0x8c, b.length, ...b] }

const opcodeStream: fc.Arbitrary<Uint8Array> = fc.tuple(fc.boolean(), fc.array(opcode, { maxLength: 40 }), fc.boolean())
  .map(([proto, ops, stop]) => Buffer.concat([Uint8Array.from(proto ? [0x80, 2] : []), ...ops.map((o) => Uint8Array.from(o)), Uint8Array.from(stop ? [0x2e] : [])]))

/** A pickle int op for any value (K, M, J or LONG1), as pickle.dumps writes it. */
function intOp(v: bigint): number[] {
  if (v >= 0n && v < 256n) return [0x4b, Number(v)]
  if (v >= -(2n ** 31n) && v < 2n ** 31n) return [0x4a, ...le(BigInt.asUintN(32, v), 4)]
  return [0x8a, 9, ...le(BigInt.asUintN(72, v), 9)]
}
const tupleOf = (vs: readonly bigint[]): number[] => [0x28, ...vs.flatMap(intOp), 0x74]
const dim = fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.constantFrom(...INTERESTING), fc.constantFrom(0n, 0x400n, -1n, -(2n ** 63n)))

/** A state dict of `_rebuild_tensor_v2` calls with hostile storage sizes, offsets, sizes and strides. */
const hostileTensors: fc.Arbitrary<Uint8Array> = fc.array(fc.record({
  storage: fc.constantFrom('FloatStorage', 'HalfStorage', 'LongStorage', 'BoolStorage', 'UntypedStorage'),
  key: fc.constantFrom('0', '1', '9', 'missing', '../../etc/passwd'),
  numel: fc.oneof(fc.bigInt({ min: 0n, max: 64n }), dim), offset: fc.oneof(fc.constant(0n), dim),
  dims: fc.array(fc.record({ size: dim, stride: fc.oneof(fc.constantFrom(0n, 1n), dim) }), { maxLength: 4 }),
  extraStride: fc.option(dim, { freq: 5 }),
}), { minLength: 1, maxLength: 4 }).map((ts) => ts.map((t) => ({
  ...t, size: t.dims.map((d) => d.size), stride: [...t.dims.map((d) => d.stride), ...(t.extraStride === null ? [] : [t.extraStride])],
}))).map((ts) => Uint8Array.from([0x80, 2, 0x7d, 0x28, ...ts.flatMap((t, i) => [
  ...strOp(`t${i}`), ...enc('ctorch._utils\n_rebuild_tensor_v2\n('), 0x28, ...strOp('storage'), ...enc(`ctorch\n${t.storage}\n`),
  ...strOp(t.key), ...strOp('cpu'), ...intOp(t.numel), 0x74, 0x51, ...intOp(t.offset), ...tupleOf(t.size), ...tupleOf(t.stride),
  0x89, 0x29, 0x74, 0x52,
]), 0x75, 0x2e]))

/** Storages named "0"… "9" hold 4 KiB each; others are missing (so both paths are exercised). */
const memoryStore: StorageStore = {
  bigEndian: false,
  byteLength: (key) => (/^\d$/.test(key) ? 4096 : undefined),
  read: async (_key, byteOffset, length) => counting(byteOffset + length).subarray(byteOffset),
  close: async () => undefined,
}

export async function pickleSeeds(): Promise<Uint8Array[]> {
  const pkls: Uint8Array[] = []
  for (const zip of [await refBytes('sd1', 'adapters', 'embeddings', 'tinyemb.pt'), await refBytes('taesd', 'taesd_decoder.pth'), fixtureCheckpoints()[0]]) {
    for (const [name, data] of await zipEntries(zip)) if (name.endsWith('data.pkl')) pkls.push(data)
  }
  return pkls
}

export const pickleTarget: FuzzTarget<Uint8Array> = {
  name: 'pickle',
  describe: 'formats/pickle*.ts VM + ckpt-flatten + tensor view checks and reads',
  // A broadcast view may legitimately materialise up to MAX_BROADCAST_BYTES (64 MiB), plus the view's output.
  maxBytes: 160 * 1024 * 1024,
  async arbitrary() { return fc.oneof(mutated(await pickleSeeds()), opcodeStream, hostileTensors) },
  async run(bytes) {
    const storages = new Map<string, TorchStorage>()
    const { value } = unpickle(bytes, { file: 'fuzz.ckpt', what: 'data.pkl', persistentLoad: storagePersistentLoad(storages) })
    const src = buildSource('fuzz.ckpt', value, memoryStore)
    for (const key of src.keys()) await src.readF32(key)
  },
}
