/**
 * safetensors: the 8-byte length, the JSON header (every number validated), then every tensor read as float32.
 * Structure-aware cases are well-formed files whose header numbers are hostile: offsets past the end, overlaps,
 * holes, huge or negative or fractional shapes, unknown dtypes, deep JSON nesting, long names, `__metadata__` abuse,
 * and a length prefix that lies.
 */
import fc from 'fast-check'
import { SafetensorsSource, readSafetensorsHeader } from '../../../src/formats/safetensors.ts'
import { encodeSafetensorsHeader } from '../../../src/formats/safetensors-writer.ts'
import { DTYPE_BYTES, type DType } from '../../../src/core/dtype.ts'
import type { FuzzTarget } from '../harness.ts'
import { memoryFile } from '../memory-file.ts'
import { mutated, rarely, INTERESTING } from '../mutate.ts'
import { counting, refBytes } from '../seeds.ts'

const DTYPES = Object.keys(DTYPE_BYTES) as DType[]

/** A valid file: header (padded as the writer pads it) + data. */
function validFile(items: readonly { name: string; dtype: DType; shape: number[] }[], metadata?: Record<string, string>): Uint8Array {
  const sized = items.map((t) => ({ ...t, byteLength: t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype] }))
  const header = encodeSafetensorsHeader(sized, metadata)
  return Buffer.concat([header, counting(sized.reduce((a, t) => a + t.byteLength, 0))])
}

function generatedSeeds(): Uint8Array[] {
  return [
    validFile([{ name: 'a', dtype: 'F32', shape: [2, 3] }, { name: 'b', dtype: 'F16', shape: [4] }], { format: 'pt' }),
    validFile(DTYPES.map((dtype, i) => ({ name: `t.${i}.${dtype}`, dtype, shape: [i % 3 + 1, 2] }))),
    validFile([{ name: 'empty', dtype: 'BF16', shape: [0, 5] }, { name: 'scalar', dtype: 'F64', shape: [] }]),
    validFile([]),
  ]
}

const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -4, max: 4096 }),
  fc.constantFrom(...INTERESTING.map(Number), -1, -0, 0.5, 1e300, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER),
  fc.constantFrom('1', null, true, [], {}),
)
const shape = fc.array(hostileNumber, { maxLength: 6 })
const entry = fc.record({
  dtype: fc.oneof(fc.constantFrom(...DTYPES), fc.constantFrom('f32', 'F128', '', '__proto__', 'toString')),
  shape: fc.oneof(shape, fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 })),
  data_offsets: fc.oneof(fc.tuple(hostileNumber, hostileNumber), fc.array(hostileNumber, { maxLength: 3 }), fc.tuple(fc.nat(64), fc.nat(64))),
}, { requiredKeys: [] })
const name = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', '__metadata__', 'a'.repeat(5000)))
const metadata = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 })), { maxKeys: 6 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant({ big: 'x'.repeat(20_000) }),
)
const deepJson = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":')).map(([n, open]) =>
  `{"t":${open.repeat(n)}0${(open === '[' ? ']' : '}').repeat(n)}}`)

const structured: fc.Arbitrary<Uint8Array> = fc.record({
  header: fc.oneof(
    { arbitrary: fc.record({ entries: fc.array(fc.tuple(name, entry), { maxLength: 6 }), metadata: fc.option(metadata) })
      .map(({ entries, metadata: m }) => JSON.stringify({ ...(m === null ? {} : { __metadata__: m }), ...Object.fromEntries(entries) })), weight: 8 },
    { arbitrary: deepJson, weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 1 },
  ),
  dataBytes: fc.nat({ max: 256 }),
  lengthLie: rarely(fc.constantFrom(...INTERESTING), 8),
}).map(({ header, dataBytes, lengthLie }) => {
  const json = new TextEncoder().encode(header)
  const out = new Uint8Array(8 + json.length + dataBytes)
  new DataView(out.buffer).setBigUint64(0, lengthLie ?? BigInt(json.length), true)
  out.set(json, 8)
  return out
})

export async function safetensorsSeeds(): Promise<Uint8Array[]> {
  return [
    await refBytes('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'),
    await refBytes('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'),
    await refBytes('sd1', 'samplers2', 'schedules.safetensors'),
    ...generatedSeeds(),
  ]
}

export const safetensorsTarget: FuzzTarget<Uint8Array> = {
  name: 'safetensors',
  describe: 'formats/safetensors.ts: header, then every tensor as float32',
  async arbitrary() { return fc.oneof(mutated(await safetensorsSeeds()), structured) },
  async run(bytes) {
    const { fh, size } = memoryFile(bytes)
    const src = new SafetensorsSource('fuzz.safetensors', fh, await readSafetensorsHeader('fuzz.safetensors', fh, size))
    for (const key of src.keys()) await src.readF32(key)
  },
}
