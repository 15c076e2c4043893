/**
 * GGUF: the header (counts, strings, typed metadata and arrays, alignment, tensor infos, data placement), then every
 * tensor read as float32 (plain types converted, block types dequantized). Structure-aware cases are headers built
 * field by field with hostile numbers: counts and string/array lengths near 2^64, value types past 12, arrays of
 * arrays, n_dims 0 or 5+, dimensions whose product passes 2^53, unknown and unsupported ggml types, rows that are not
 * whole blocks, unaligned, overlapping or out-of-file offsets, alignments that are not powers of two.
 */
import fc from 'fast-check'
import { readGgufHeader, GgufSource } from '../../../src/formats/gguf.ts'
import { ggufBytes, type GgufFixtureType } from '../../fixtures/gguf-writer.ts'
import type { FuzzTarget } from '../harness.ts'
import { memoryFile } from '../memory-file.ts'
import { mutated, rarely, INTERESTING } from '../mutate.ts'

const TYPES: readonly GgufFixtureType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1']
const values = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * (seed + 1))

function generatedSeeds(): Uint8Array[] {
  return [
    ggufBytes(TYPES.map((type, i) => ({ name: `model.t${i}.${type}`, shape: [2, 32], type, data: values(64, i) })),
      { 'general.architecture': 'sd1', 'general.name': 'fuzz', vocab: ['a', 'b', 'c'], scale: 0.5, flag: true }),
    ggufBytes([{ name: 'w', shape: [64], type: 'Q8_0', data: values(64, 9) }, { name: 'b', shape: [3], type: 'F32', data: values(3, 2) }], {}, 64),
    ggufBytes([{ name: 'x', shape: [1, 1, 2, 32], type: 'Q5_1', data: values(64, 4) }], { long: Array.from({ length: 80 }, (_, i) => `tok${i}`) }),
    ggufBytes([]),
  ]
}

/** Little-endian field writer for hand-built headers. */
class Out {
  readonly parts: number[] = []
  u32(v: number): this { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 255); return this }
  u64(v: bigint): this { for (let i = 0n; i < 8n; i++) this.parts.push(Number((BigInt.asUintN(64, v) >> (8n * i)) & 255n)); return this }
  raw(b: Uint8Array): this { this.parts.push(...b); return this }
  str(s: string, lie?: bigint): this { const b = new TextEncoder().encode(s); return this.u64(lie ?? BigInt(b.length)).raw(b) }
}

const big = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.constantFrom(...INTERESTING))
const small = (max: number): fc.Arbitrary<bigint> => fc.oneof({ arbitrary: fc.bigInt({ min: 0n, max: BigInt(max) }), weight: 6 }, { arbitrary: big, weight: 1 })
const u32 = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(...INTERESTING.filter((v) => v < 2n ** 32n).map(Number)))
const keyName = fc.oneof(fc.constantFrom('general.alignment', 'general.architecture', '__proto__', 'constructor'), fc.string({ maxLength: 10 }))

type Kv = { key: string; type: number; arrayType: number; length: bigint; scalar: number; text: string; lie: bigint | null }
const kv: fc.Arbitrary<Kv> = fc.record({
  key: keyName,
  type: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 12 }), weight: 8 }, { arbitrary: u32, weight: 1 }),
  arrayType: fc.oneof(fc.integer({ min: 0, max: 13 }), u32),
  length: small(6),
  scalar: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(0, 1, 3, 32, 64, 0xffffffff)),
  text: fc.string({ maxLength: 12 }),
  lie: rarely(big, 6),
})

function writeValue(o: Out, type: number, v: Kv, depth = 0): void {
  if (type === 8) { o.str(v.text, v.lie ?? undefined); return }
  if (type === 9 && depth === 0) {
    o.u32(v.arrayType).u64(v.length)
    for (let i = 0n; i < v.length && i < 8n; i++) writeValue(o, v.arrayType, v, 1)
    return
  }
  const size = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8][type] ?? 4
  for (let i = 0; i < size; i++) o.parts.push(i < 4 ? (v.scalar >>> (8 * i)) & 255 : 0)
}

type Info = { name: string; nDims: number; ne: bigint[]; type: number; offset: bigint }
const info: fc.Arbitrary<Info> = fc.record({
  name: fc.oneof(fc.constantFrom('a', 'b', 'model.w', ''), fc.string({ maxLength: 6 })),
  nDims: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 6 }, { arbitrary: u32, weight: 1 }),
  ne: fc.array(fc.oneof({ arbitrary: fc.constantFrom(1n, 2n, 32n, 64n), weight: 4 }, { arbitrary: big, weight: 1 }), { minLength: 4, maxLength: 4 }),
  type: fc.oneof({ arbitrary: fc.constantFrom(0, 1, 2, 3, 6, 7, 8, 30), weight: 6 }, { arbitrary: u32, weight: 1 }),
  offset: fc.oneof({ arbitrary: fc.constantFrom(0n, 32n, 64n, 128n, 256n), weight: 4 }, { arbitrary: big, weight: 1 }),
})

const structured: fc.Arbitrary<Uint8Array> = fc.record({
  version: fc.oneof({ arbitrary: fc.constantFrom(2, 3), weight: 8 }, { arbitrary: u32, weight: 1 }),
  kvs: fc.array(kv, { maxLength: 4 }),
  infos: fc.array(info, { maxLength: 4 }),
  kvLie: rarely(big, 6),
  tensorLie: rarely(big, 6),
  data: fc.nat({ max: 1024 }),
}).map(({ version, kvs, infos, kvLie, tensorLie, data }) => {
  const o = new Out().raw(new TextEncoder().encode('GGUF')).u32(version)
  o.u64(tensorLie ?? BigInt(infos.length)).u64(kvLie ?? BigInt(kvs.length))
  for (const v of kvs) { o.str(v.key).u32(v.type); writeValue(o, v.type, v) }
  for (const t of infos) {
    o.str(t.name).u32(t.nDims)
    for (let i = 0; i < Math.min(t.nDims, 4); i++) o.u64(t.ne[i])
    o.u32(t.type).u64(t.offset)
  }
  while (o.parts.length % 32) o.parts.push(0)
  for (let i = 0; i < data; i++) o.parts.push((i * 37 + 11) & 255)
  return Uint8Array.from(o.parts)
})

export const ggufTarget: FuzzTarget<Uint8Array> = {
  name: 'gguf',
  describe: 'formats/gguf-header.ts + gguf.ts + gguf-quant.ts: header, metadata, placement, every tensor as float32',
  async arbitrary() { return fc.oneof(mutated(generatedSeeds()), structured) },
  async run(bytes) {
    const { fh, size } = memoryFile(bytes)
    const src = new GgufSource('fuzz.gguf', fh, await readGgufHeader('fuzz.gguf', fh, size))
    for (const key of src.keys()) await src.readF32(key)
  },
}
