/*
 * A1111's ImageRNG (modules/rng.py @ c8a5322d): one generator per image of a batch, so image i of a batch gets
 * exactly the noise a batch of one with its seed would get, for the initial latent and for every later draw
 * (A1111 routes k-diffusion's randn_like through `next()`).
 *
 * Sources (A1111's "Random number generator source" setting):
 *   'gpu' (A1111's default): torch.randn on the CUDA device, i.e. CUDA's Philox stream, which the NV source
 *        reproduces on any machine; so 'gpu' and 'nv' draw the same numbers here. Infotext: field omitted.
 *        Checked on an NVIDIA H200 (torch 2.11 + CUDA 13): torch.randn(device='cuda') after manual_seed(s), for seeds
 *        0, 42, 1234567, 2^32 - 1, 2^32, shapes [7], [4,8,8], [4,64,64] and three consecutive draws of one
 *        torch.Generator('cuda'), equals this Philox stream to <= 2.4e-6 (CUDA's fast sin/log round differently;
 *        same stream, offsets and seed handling), so a seed gives the same image as A1111 on a GPU up to that.
 *   'nv':  A1111's numpy Philox imitation of the CUDA stream (rng_philox.py). Infotext `RNG: NV`.
 *   'cpu': torch's CPU generator (mt19937). Infotext `RNG: CPU`. Also what ComfyUI uses.
 */
import { InputError } from '../../core/errors.ts'
import { PhiloxGenerator } from './philox.ts'
import { TorchCpuGenerator } from './torch-cpu.ts'
import { pasteCentred, slerp } from './variation.ts'

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
  /** A1111 "Variation seed": per-image subseeds (missing ones are 0) blended in by slerp with this strength. */
  readonly variation?: { readonly subseeds: readonly number[]; readonly strength: number }
  /** A1111 "Resize seed from": the latent shape [C, h, w] the initial noise is drawn at, pasted centred. */
  readonly resizeFrom?: readonly number[]
}

export class ImageRng {
  readonly shape: readonly number[]
  readonly seeds: readonly number[]
  readonly source: RandnSource
  private readonly ensd: number
  private readonly variation: ImageRngOptions['variation']
  private readonly resizeFrom: readonly number[] | undefined
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
    this.variation = opts.variation
    const from = opts.resizeFrom
    if (from && (from.length !== 3 || this.shape.length !== 3 || from[0] !== this.shape[0])) {
      throw new InputError(`resizeFrom [${from.join(', ')}] must be a latent shape [C, h, w] with C = ${this.shape[0]}.`)
    }
    this.resizeFrom = from && from.some((d, i) => d !== this.shape[i]) ? [...from] : undefined
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
    const out = this.variation?.strength || this.resizeFrom ? this.drawFirstVaried() : this.drawAll()
    if (this.ensd !== 0) this.generators = this.seeds.map((s) => createGenerator(this.source, s + this.ensd))
    return out
  }

  /** The next draw of every image's generator, [B, ...shape] (the first call returns first()). */
  next(): Float32Array {
    return this.isFirst ? this.first() : this.drawAll()
  }

  /** ImageRNG.first with a variation seed and/or a seed resize: fresh per-seed draws, as A1111 makes them. */
  private drawFirstVaried(): Float32Array {
    const per = this.shape.reduce((a, b) => a * b, 1)
    const out = new Float32Array(per * this.seeds.length)
    const noiseShape = this.resizeFrom ?? this.shape
    this.seeds.forEach((seed, i) => {
      let noise = this.resizeFrom ? createGenerator(this.source, seed).randn(noiseShape) : this.generators[i].randn(this.shape)
      const v = this.variation
      if (v && v.strength !== 0) {
        const subnoise = createGenerator(this.source, v.subseeds[i] ?? 0).randn(noiseShape)
        noise = slerp(v.strength, noise, subnoise, noiseShape)
      }
      // The target-shape draw is the image generator's, so later (ancestral) draws continue after it, as in A1111.
      if (this.resizeFrom) noise = pasteCentred(this.generators[i].randn(this.shape), this.shape, noise, noiseShape)
      out.set(noise, i * per)
    })
    return out
  }

  private drawAll(): Float32Array {
    const per = this.shape.reduce((a, b) => a * b, 1)
    const out = new Float32Array(per * this.generators.length)
    this.generators.forEach((g, i) => out.set(g.randn(this.shape), i * per))
    return out
  }
}
