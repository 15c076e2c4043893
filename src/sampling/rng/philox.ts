/*
 * A1111's "NV" random source: Philox4x32-10 + Box-Muller, written to reproduce torch.randn on CUDA devices, so a
 * seed gives the same noise as on an NVIDIA GPU. Port of AUTOMATIC1111 stable-diffusion-webui
 * modules/rng_philox.py @ c8a5322d (algorithm: ../shared/reference/README.md, "rng/").
 *
 * State: key = (seed low 32 bits, seed high 32 bits), offset = 0. Every randn call uses the current offset and then
 * increments it by 1, whatever its size. Element i of a draw uses counter (offset, 0, i, 0); of the four output
 * words only the first two are used: u = c0·2^-32 + 2^-33, v = c1·C + C/2 (C = float32(2^-32 · 2π)), both in
 * float64, and the value is float32(sqrt(-2 ln u) · sin v).
 */
import { InputError } from '../../core/errors.ts'
import { numel } from '../../core/host-tensor.ts'

const M0 = 0xd2511f53
const M1 = 0xcd9e8d57
const W0 = 0x9e3779b9
const W1 = 0xbb67ae85
const TWO_POW_32 = 2 ** 32
/** float32(2.3283064e-10 * 6.2831855), as the numpy original computes it. */
const C = Math.fround(Math.fround(2.3283064e-10) * Math.fround(6.2831855))
const C_HALF = C / 2
const U_HALF = 2 ** -33

/** High 32 bits of the 64-bit product of two uint32 words (exact, via 16-bit halves). */
function mulHi(a: number, bl: number, bh: number): number {
  const al = a & 0xffff
  const ah = a >>> 16
  const lh = al * bh
  const hl = ah * bl
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff)
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0
}

const M0L = M0 & 0xffff
const M0H = M0 >>> 16
const M1L = M1 & 0xffff
const M1H = M1 >>> 16

/** Philox4x32-10 of counter (c0, 0, c2, 0) under key (k0, k1); writes the four output words into out[0..3]. */
export function philox4x32(c0In: number, c2In: number, k0In: number, k1In: number, out: Uint32Array): void {
  let c0 = c0In >>> 0
  let c1 = 0
  let c2 = c2In >>> 0
  let c3 = 0
  let k0 = k0In >>> 0
  let k1 = k1In >>> 0
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(c0, M0L, M0H)
    const lo0 = Math.imul(c0, M0) >>> 0
    const hi1 = mulHi(c2, M1L, M1H)
    const lo1 = Math.imul(c2, M1) >>> 0
    c0 = (hi1 ^ c1 ^ k0) >>> 0
    c1 = lo1
    c2 = (hi0 ^ c3 ^ k1) >>> 0
    c3 = lo0
    k0 = (k0 + W0) >>> 0
    k1 = (k1 + W1) >>> 0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/** `rng_philox.Generator(seed)`: per-call offsets, float32 output. */
export class PhiloxGenerator {
  private offset = 0
  private readonly k0: number
  private readonly k1: number

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new InputError(`seed ${seed} is not a whole number in [0, 2^53) for the NV (Philox) random source. `
        + 'Hint: A1111 replaces a seed of -1 by a random seed before drawing noise.')
    }
    this.k0 = seed % TWO_POW_32
    this.k1 = Math.floor(seed / TWO_POW_32)
  }

  /** One draw of numel(shape) values at the current offset, then offset += 1. */
  randn(shape: readonly number[]): Float32Array {
    const n = numel(shape)
    if (n > TWO_POW_32) throw new InputError(`cannot draw ${n} values at once from Philox: the counter holds 2^32 elements.`)
    const out = new Float32Array(n)
    const words = new Uint32Array(4)
    const offset = this.offset
    for (let i = 0; i < n; i++) {
      philox4x32(offset, i, this.k0, this.k1, words)
      const u = words[0] * 2 ** -32 + U_HALF
      const v = words[1] * C + C_HALF
      out[i] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v)
    }
    this.offset++
    return out
  }
}
