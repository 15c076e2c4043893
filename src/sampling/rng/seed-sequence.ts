/*
 * numpy.random.SeedSequence (numpy >= 1.19, bit_generator.pyx; M.E. O'Neill's seed_seq hash): the entropy words
 * (+ spawn key, entropy zero-padded to the pool size when a spawn key is given) mixed into a pool of uint32 words,
 * then `generateState(n)` hashes the pool out into n uint32 words. torchsde seeds every Brownian-tree node with it.
 */

const INIT_A = 0x43b0d7e5
const MULT_A = 0x931e8875
const INIT_B = 0x8b51f9dd
const MULT_B = 0x58f38ded
const MIX_MULT_L = 0xca01f9dd
const MIX_MULT_R = 0x4973f715

/** A non-negative integer (< 2^53) as little-endian uint32 words; 0 → [0]. */
function uint32Words(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`SeedSequence entropy must be a whole number >= 0, got ${n}`)
  const out: number[] = []
  do {
    out.push(n % 2 ** 32)
    n = Math.floor(n / 2 ** 32)
  } while (n > 0)
  return out
}

function hashmix(value: number, hashConst: { v: number }): number {
  value = (value ^ hashConst.v) >>> 0
  hashConst.v = Math.imul(hashConst.v, MULT_A) >>> 0
  value = Math.imul(value, hashConst.v) >>> 0
  return (value ^ (value >>> 16)) >>> 0
}

function mix(x: number, y: number): number {
  const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0
  return (r ^ (r >>> 16)) >>> 0
}

export class SeedSequence {
  private readonly pool: Uint32Array

  constructor(entropy: number | readonly number[], opts: { spawnKey?: readonly number[]; poolSize?: number } = {}) {
    const poolSize = opts.poolSize ?? 4
    let run = (typeof entropy === 'number' ? [entropy] : entropy).flatMap(uint32Words)
    const spawn = (opts.spawnKey ?? []).flatMap(uint32Words)
    if (spawn.length > 0 && run.length < poolSize) run = [...run, ...new Array<number>(poolSize - run.length).fill(0)]
    this.pool = mixEntropy(poolSize, [...run, ...spawn])
  }

  generateState(nWords: number): Uint32Array {
    const out = new Uint32Array(nWords)
    let hashConst = INIT_B
    for (let i = 0; i < nWords; i++) {
      let v = (this.pool[i % this.pool.length] ^ hashConst) >>> 0
      hashConst = Math.imul(hashConst, MULT_B) >>> 0
      v = Math.imul(v, hashConst) >>> 0
      out[i] = (v ^ (v >>> 16)) >>> 0
    }
    return out
  }
}

function mixEntropy(poolSize: number, entropy: readonly number[]): Uint32Array {
  const pool = new Uint32Array(poolSize)
  const hashConst = { v: INIT_A }
  for (let i = 0; i < poolSize; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0, hashConst)
  for (let src = 0; src < poolSize; src++) {
    for (let dst = 0; dst < poolSize; dst++) if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hashConst))
  }
  for (let src = poolSize; src < entropy.length; src++) {
    for (let dst = 0; dst < poolSize; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src], hashConst))
  }
  return pool
}
