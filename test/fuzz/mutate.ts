/**
 * Mutational inputs from seed files, AFL-style: each case is a seed plus 1–8 edits (bit flips, "interesting"
 * integers written at any width and byte order, truncation, insertion, deletion, duplication of a run, and splicing
 * with another seed). Edits are plain records, so fast-check shrinks a failing case to the fewest edits.
 */
import fc from 'fast-check'

/** Integers that sit on the edges readers check: 0, ±1, sign bits, 2^31, 2^32, 2^53, 2^63, 2^64 − 1. */
export const INTERESTING: readonly bigint[] = [
  0n, 1n, 2n, 7n, 8n, 0x7fn, 0x80n, 0xffn, 0x100n, 0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n,
  0xfffffffen, 0xffffffffn, 0x100000000n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n,
]

type Edit =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'byte'; readonly at: number; readonly value: number }
  | { readonly kind: 'int'; readonly at: number; readonly width: 1 | 2 | 4 | 8; readonly value: bigint; readonly bigEndian: boolean; readonly delta: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number; readonly times: number }
  | { readonly kind: 'splice'; readonly at: number; readonly other: number; readonly from: number }

const pos = fc.nat({ max: 0x7fffffff })
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: pos, bit: fc.nat({ max: 7 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('byte' as const), at: pos, value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x2e, 0x5b, 0x7b) }), weight: 2 },
  { arbitrary: fc.record({
    kind: fc.constant('int' as const), at: pos, width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    value: fc.constantFrom(...INTERESTING), bigEndian: fc.boolean(), delta: fc.integer({ min: -2, max: 2 }),
  }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: pos }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: pos, length: fc.integer({ min: 1, max: 64 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('repeat' as const), at: pos, length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 2, max: 64 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('splice' as const), at: pos, other: fc.nat(), from: pos }), weight: 1 },
)

function writeInt(out: Uint8Array, at: number, e: Extract<Edit, { kind: 'int' }>): void {
  const mask = (1n << BigInt(8 * e.width)) - 1n
  let v = (e.value + BigInt(e.delta)) & mask
  for (let i = 0; i < e.width && at + i < out.length; i++) {
    out[e.bigEndian ? at + e.width - 1 - i : at + i] = Number(v & 0xffn)
    v >>= 8n
  }
}

function apply(bytes: Uint8Array, e: Edit, seeds: readonly Uint8Array[]): Uint8Array {
  const n = bytes.length
  const at = n === 0 ? 0 : e.at % n
  switch (e.kind) {
    case 'flip': if (n) bytes[at] ^= 1 << e.bit; return bytes
    case 'byte': if (n) bytes[at] = e.value; return bytes
    case 'int': if (n) writeInt(bytes, at, e); return bytes
    case 'truncate': return bytes.slice(0, at)
    case 'insert': return Buffer.concat([bytes.subarray(0, at), e.bytes, bytes.subarray(at)])
    case 'delete': return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.length)])
    case 'repeat': {
      const run = bytes.subarray(at, at + e.length)
      return Buffer.concat([bytes.subarray(0, at), ...new Array<Uint8Array>(e.times).fill(run), bytes.subarray(at)])
    }
    case 'splice': {
      const other = seeds[e.other % seeds.length]
      return Buffer.concat([bytes.subarray(0, at), other.subarray(other.length ? e.from % other.length : 0)])
    }
  }
}

/** Seeds with 1–8 edits each (and, once in a while, a seed unchanged, so the parse path itself is covered). */
export function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('mutated: no seeds')
  return fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(edit, { minLength: 0, maxLength: 8 }))
    .map(([i, edits]) => edits.reduce<Uint8Array>((b, e) => apply(b, e, seeds), seeds[i].slice()))
}

/** `arb` in one case of `oneIn`, else null (fc.option's `freq` is the reverse: null once in `freq`). */
export const rarely = <T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> =>
  fc.oneof({ arbitrary: fc.constant(null), weight: oneIn - 1 }, { arbitrary: arb, weight: 1 })
