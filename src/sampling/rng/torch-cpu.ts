/*
 * torch's CPU generator, bit for bit: `torch.manual_seed(s); torch.randn(shape)` (torch 1.13, float32).
 *
 * Ported from pytorch v1.13.1:
 *   aten/src/ATen/core/MT19937RNGEngine.h            mt19937, seeded with the LOW 32 bits of the seed
 *   aten/src/ATen/core/TransformationHelper.h         uniform_real: (random() & (2^24 - 1)) * 2^-24 for float,
 *                                                     (random64() & (2^53 - 1)) * 2^-53 for double
 *   aten/src/ATen/core/DistributionsHelper.h          normal_distribution<double>: Box-Muller on two doubles,
 *                                                     returns r·cos θ and caches r·sin θ in the generator
 *   aten/src/ATen/native/cpu/DistributionTemplates.h  normal_kernel: float tensors of >= 16 contiguous elements go
 *                                                     through normal_fill (all uniforms first, then 16-wide
 *                                                     Box-Muller blocks, the tail block re-drawn), smaller ones
 *                                                     through the scalar normal_distribution<double> path.
 */
import { InputError } from '../../core/errors.ts'
import { numel } from '../../core/host-tensor.ts'
import { logCephes, sinCosCephes } from './cephes-f32.ts'

const N = 624
const M = 397
const TWO_POW_32 = 2 ** 32

/** Low 32 bits of an integer seed as torch's `manual_seed` keeps them (negative seeds wrap modulo 2^64). */
export function torchSeedLow32(seed: number): number {
  if (!Number.isSafeInteger(seed)) {
    throw new InputError(`seed ${seed} is not an integer in ±2^53. Hint: seeds are whole numbers such as 42 or 4294967296.`)
  }
  return ((seed % TWO_POW_32) + TWO_POW_32) % TWO_POW_32
}

/** The standard MT19937 (Matsumoto & Nishimura), as at::mt19937. */
class Mt19937 {
  private readonly state = new Uint32Array(N)
  private index = N

  constructor(seed32: number) {
    const s = this.state
    s[0] = seed32
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1]
      s[i] = Math.imul(1812433253, prev ^ (prev >>> 30)) + i
    }
  }

  private twist(): void {
    const s = this.state
    for (let i = 0; i < N; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % N] & 0x7fffffff)
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)
    }
    this.index = 0
  }

  nextUint32(): number {
    if (this.index >= N) this.twist()
    let y = this.state[this.index++]
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }
}

const fr = Math.fround
/** `_mm256_set1_ps(2.0f * c10::pi<double>)`: 2π rounded to float32. */
const TWO_PI_F = fr(2 * Math.PI)

/**
 * A `torch.Generator()` on the CPU: consecutive `randn` calls continue the stream, as
 * `torch.randn(shape, generator=g)` does.
 */
export class TorchCpuGenerator {
  private mt: Mt19937
  /** normal_distribution<double>'s cached second Box-Muller value (reset by manualSeed, as torch does). */
  private nextDoubleNormal: number | undefined

  constructor(seed: number) {
    this.mt = new Mt19937(torchSeedLow32(seed))
  }

  manualSeed(seed: number): this {
    this.mt = new Mt19937(torchSeedLow32(seed))
    this.nextDoubleNormal = undefined
    return this
  }

  /** `torch.randn(shape, generator=this)`, float32, row-major. */
  randn(shape: readonly number[]): Float32Array {
    const n = numel(shape)
    const out = new Float32Array(n)
    if (n >= 16) this.normalFill(out)
    else for (let i = 0; i < n; i++) out[i] = this.normalDouble()
    return out
  }

  private uniformFloat(): number {
    return (this.mt.nextUint32() & 0xffffff) * 2 ** -24
  }

  private uniformDouble(): number {
    const hi = this.mt.nextUint32()
    const lo = this.mt.nextUint32()
    // make64BitsFrom32Bits(hi, lo) & (2^53 - 1): the top 21 bits of hi, all of lo.
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * 2 ** -53
  }

  private normalDouble(): number {
    const cached = this.nextDoubleNormal
    if (cached !== undefined) {
      this.nextDoubleNormal = undefined
      return cached
    }
    const u1 = this.uniformDouble()
    const u2 = this.uniformDouble()
    const r = Math.sqrt(-2 * Math.log(1 - u2))
    const theta = 2 * Math.PI * u1
    this.nextDoubleNormal = r * Math.sin(theta)
    return r * Math.cos(theta)
  }

  private normalFill(data: Float32Array): void {
    const n = data.length
    for (let i = 0; i < n; i++) data[i] = this.uniformFloat()
    for (let i = 0; i + 16 <= n; i += 16) normalFill16(data, i)
    if (n % 16 !== 0) {
      const start = n - 16
      for (let i = 0; i < 16; i++) data[start + i] = this.uniformFloat()
      normalFill16(data, start)
    }
  }
}

/**
 * normal_fill_16_AVX2: Box-Muller over 8 pairs (data[j], data[j + 8]) with the float32 Cephes approximations
 * below, which is what x86-64 builds of torch run (CPU_CAPABILITY_AVX2).
 */
function normalFill16(data: Float32Array, at: number): void {
  for (let j = at; j < at + 8; j++) {
    const u1 = fr(1 - data[j])
    const radius = fr(Math.sqrt(fr(-2 * logCephes(u1))))
    const { sin, cos } = sinCosCephes(fr(TWO_PI_F * data[j + 8]))
    data[j] = fr(radius * cos)
    data[j + 8] = fr(radius * sin)
  }
}
/** `torch.manual_seed(seed); torch.randn(shape)`. */
export const torchRandn = (seed: number, shape: readonly number[]): Float32Array => new TorchCpuGenerator(seed).randn(shape)
