/*
 * A1111's ImageRNG (modules/rng.py @ c8a5322d): one generator per image of a batch, so image i of a batch gets
 * exactly the noise a batch of one with its seed would get, for the initial latent and for every later draw
 * (A1111 routes k-diffusion's randn_like through `next()`).
 *
 * Sources (A1111's "Random number generator source" setting):
 *   'gpu' (A1111's default): torch.randn on the CUDA device, i.e. CUDA's Philox stream, which the NV source
 *        reproduces on any machine; so 'gpu' and 'nv' draw the same numbers here. Infotext: field omitted.
 *   'nv':  A1111's numpy Philox imitation of the CUDA stream (rng_philox.py). Infotext `RNG: NV`.
 *   'cpu': torch's CPU generator (mt19937). Infotext `RNG: CPU`. Also what ComfyUI uses.
 */
import { InputError } from '../../core/errors.ts'
import { PhiloxGenerator } from './philox.ts'
import { TorchCpuGenerator } from './torch-cpu.ts'

export const RANDN_SOURCES = ['gpu', 'nv', 'cpu'] as const
export type RandnSource = (typeof RANDN_SOURCES)[number]

/** Anything that draws standard-normal float32 noise of a shape, continuing its own stream. */
export interface NoiseGenerator {
  randn(shape: readonly number[]): Float32Array
}

/** A1111's `create_generator(seed)` for a source. */
export function createGenerator(source: RandnSource, seed: number): NoiseGenerator {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InputError(`seed ${seed} is not a whole number in [0, 2^53). Hint: pick a seed such as 42; `
      + 'A1111 turns -1 into a random seed before drawing noise.')
  }
  return source === 'cpu' ? new TorchCpuGenerator(seed) : new PhiloxGenerator(seed)
}

/** A1111 `processing.py`: without variation seeds, image i of a run has seed + i (no wrap-around at 2^32). */
export const batchSeeds = (seed: number, count: number, start = 0): number[] =>
  Array.from({ length: count }, (_, i) => seed + start + i)

export interface ImageRngOptions {
  /** Per-image latent shape, e.g. [4, H/8, W/8]. */
  readonly shape: readonly number[]
  /** One seed per image of the batch. */
  readonly seeds: readonly number[]
  readonly source?: RandnSource
  /** A1111's "Eta noise seed delta": when non-zero, draws after the first come from fresh generators seeded seed + ENSD. */
  readonly ensd?: number
}

export class ImageRng {
  readonly shape: readonly number[]
  readonly seeds: readonly number[]
  readonly source: RandnSource
  private readonly ensd: number
  private generators: NoiseGenerator[]
  private isFirst = true

  constructor(opts: ImageRngOptions) {
    if (opts.seeds.length === 0) throw new InputError('ImageRng needs at least one seed (one per image of the batch).')
    const ensd = opts.ensd ?? 0
    if (!Number.isSafeInteger(ensd)) throw new InputError(`eta noise seed delta ${ensd} is not a whole number.`)
    this.shape = [...opts.shape]
    this.seeds = [...opts.seeds]
    this.source = opts.source ?? 'gpu'
    this.ensd = ensd
    this.generators = this.seeds.map((s) => createGenerator(this.source, s))
  }

  /** Batch size B. */
  get batchSize(): number { return this.seeds.length }

  /**
   * The initial noise [B, ...shape]: each image's first draw. Afterwards (ENSD != 0) the generators are replaced by
   * ones seeded with seed + ENSD, as A1111 does. Unlike A1111, calling first() explicitly also ends the "first"
   * state, so a following next() continues the streams instead of repeating the initial noise.
   */
  first(): Float32Array {
    this.isFirst = false
    const out = this.drawAll()
    if (this.ensd !== 0) this.generators = this.seeds.map((s) => createGenerator(this.source, s + this.ensd))
    return out
  }

  /** The next draw of every image's generator, [B, ...shape] (the first call returns first()). */
  next(): Float32Array {
    return this.isFirst ? this.first() : this.drawAll()
  }

  private drawAll(): Float32Array {
    const per = this.shape.reduce((a, b) => a * b, 1)
    const out = new Float32Array(per * this.generators.length)
    this.generators.forEach((g, i) => out.set(g.randn(this.shape), i * per))
    return out
  }
}
