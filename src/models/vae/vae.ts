/*
 * VAE sessions: config measured from the weights, graph built once with symbolic batch/height/width, ORT session.
 * Latents here are UNSCALED (divide a sampler latent by the family's scale factor, 0.18215 SD1/SD2, 0.13025 SDXL,
 * before decode; multiply an encoded mean by it).
 * Memory: activations peak at the full-resolution level (a 512×512 decode holds [1, 128, 512, 512] fp32 = 128 MB
 * tensors; 1024×1024 four times that) and the mid attention holds [B, hw, hw] (64×64 latent: 64 MB; 128×128: 1 GB),
 * so decodes above 96×96 latents are tiled by default (tiled.ts).
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { GraphSession, type WeightSource } from '../../graph/session.ts'
import type { ShapeSource } from '../../nn/module.ts'
import { measureVaeDecoder, measureVaeEncoder, type VaeHalfConfig } from './config.ts'
import { buildVaeDecoderGraph } from './decoder.ts'
import { buildVaeEncoderGraph } from './encoder.ts'
import { AUTO_TILE_ABOVE, decodeTiled, DEFAULT_VAE_TILING, encodeTiled, SMALL_VAE_TILING, type VaeTiling } from './tiled.ts'

export const VAE_PREFIX = 'first_stage_model.'

export type VaeWeights = WeightSource & ShapeSource

export interface VaeSessionOptions {
  /** Key prefix of the autoencoder (default 'first_stage_model.'). */
  readonly prefix?: string
  readonly threads?: number
}

/**
 * No memory-pattern planning: with symbolic H and W it over-reserves; without it (arena kept) a 64×64-latent decode
 * peaked 0.7 GB lower (1.40 vs 2.10 GB RSS) and ran no slower (28-29 s of CPU either way; BENCHMARKS.md).
 */
const sessionOptions = (opts: VaeSessionOptions) => ({ threads: opts.threads, memPattern: false })

function checkTiling(t: VaeTiling): VaeTiling {
  if (!Number.isInteger(t.maxTile) || !Number.isInteger(t.overlap) || t.overlap < 0 || t.maxTile <= 2 * t.overlap) {
    throw new InputError(`VAE tiling: expected whole numbers with 0 <= overlap and maxTile > 2 × overlap, got maxTile ${t.maxTile}, overlap ${t.overlap}`)
  }
  return t
}

function checkInput(what: string, t: HostTensor, channels: number, multiple: number): void {
  const [, c, h, w] = t.shape
  if (t.shape.length !== 4 || c !== channels || h % multiple !== 0 || w % multiple !== 0 || h === 0 || w === 0) {
    throw new InputError(`VAE ${what}: expected [B, ${channels}, H, W]${multiple > 1 ? ` with H and W multiples of ${multiple}` : ''}, `
      + `got [${t.shape.join(', ')}]`)
  }
}

/**
 * 'auto' (default): whole-image decode up to 96×96 latents (768² images; exact, as A1111 decodes), tiled above
 * with DEFAULT_VAE_TILING (SDXL's 1024² and up: bounded memory, small seam differences, see tiled.ts).
 * 'on': SMALL_VAE_TILING at any size (lowest memory). 'off': never tiles.
 */
export type VaeTilingMode = 'auto' | 'on' | 'off'

export interface VaeDecodeOptions {
  readonly tiling?: VaeTilingMode
  /** Tile size and overlap in latent pixels (default: DEFAULT_VAE_TILING for 'auto', SMALL_VAE_TILING for 'on'). */
  readonly tile?: VaeTiling
}

/** The encoder tiles by the same policy, measured on the latent it makes (an image above 768² under 'auto'). */
export type VaeEncodeOptions = VaeDecodeOptions

/** The tiling a decode or encode of `latentPixels` (h·w) uses, or undefined for the whole-image graph. */
export function vaeTilingFor(opts: VaeDecodeOptions, latentPixels: number): VaeTiling | undefined {
  const mode = opts.tiling ?? 'auto'
  if (mode === 'off' || (mode === 'auto' && latentPixels <= AUTO_TILE_ABOVE)) return undefined
  return checkTiling(opts.tile ?? (mode === 'on' ? SMALL_VAE_TILING : DEFAULT_VAE_TILING))
}

export class VaeDecoderSession {
  private constructor(readonly config: VaeHalfConfig, private readonly session: GraphSession, private readonly weights: VaeWeights) {}

  static async create(weights: VaeWeights, opts: VaeSessionOptions = {}): Promise<VaeDecoderSession> {
    const config = measureVaeDecoder(weights, opts.prefix ?? VAE_PREFIX)
    const built = buildVaeDecoderGraph(weights, config)
    return new VaeDecoderSession(config, await GraphSession.create(built.graph, { ...sessionOptions(opts), weightKeys: built.weightKeys }), weights)
  }

  /** z [B, zChannels, h, w] (unscaled) → image [B, 3, 8h, 8w], about [-1, 1], not clamped. */
  async decode(z: HostTensor, opts: VaeDecodeOptions = {}): Promise<HostTensor> {
    checkInput('decode', z, this.config.zChannels, 1)
    const whole = (t: HostTensor) => this.session.run({ z: t }, this.weights).then((out) => out.image)
    const tiling = vaeTilingFor(opts, z.shape[2] * z.shape[3])
    if (!tiling) return whole(z)
    return decodeTiled({ z, tiling, scale: 2 ** (this.config.levels.length - 1), channels: this.config.imageChannels, decodeTile: whole })
  }

  async release(): Promise<void> { await this.session.release() }
}

/** [B, C1, h, w] and [B, C2, h, w] → [B, C1 + C2, h, w]. */
function concatChannels(a: HostTensor, b: HostTensor): HostTensor {
  const [n, ca, h, w] = a.shape
  const cb = b.shape[1]
  const [pa, pb] = [ca * h * w, cb * h * w]
  const data = new Float32Array(n * (pa + pb))
  for (let i = 0; i < n; i++) {
    data.set(a.data.subarray(i * pa, (i + 1) * pa), i * (pa + pb))
    data.set(b.data.subarray(i * pb, (i + 1) * pb), i * (pa + pb) + pa)
  }
  return { shape: [n, ca + cb, h, w], data }
}

/** Channels [from, to) of [B, C, h, w]. */
function sliceChannels(t: HostTensor, from: number, to: number): HostTensor {
  const [n, c, h, w] = t.shape
  const plane = h * w
  const data = new Float32Array(n * (to - from) * plane)
  for (let i = 0; i < n; i++) data.set(t.data.subarray((i * c + from) * plane, (i * c + to) * plane), i * (to - from) * plane)
  return { shape: [n, to - from, h, w], data }
}

export interface Posterior {
  /** [B, z, H/8, W/8], unscaled */
  readonly mean: HostTensor
  /** [B, z, H/8, W/8], clamped to [-30, 20] */
  readonly logvar: HostTensor
}

export class VaeEncoderSession {
  private constructor(readonly config: VaeHalfConfig, private readonly session: GraphSession, private readonly weights: VaeWeights) {}

  static async create(weights: VaeWeights, opts: VaeSessionOptions = {}): Promise<VaeEncoderSession> {
    const config = measureVaeEncoder(weights, opts.prefix ?? VAE_PREFIX)
    const built = buildVaeEncoderGraph(weights, config)
    return new VaeEncoderSession(config, await GraphSession.create(built.graph, { ...sessionOptions(opts), weightKeys: built.weightKeys }), weights)
  }

  /**
   * image [B, 3, H, W] in [-1, 1], H and W multiples of 8 → posterior moments; tiled like decode (above 96×96
   * latents under 'auto'), the mean and logvar of overlapping tiles blended together (tiled.ts encodeTiled).
   */
  async encode(image: HostTensor, opts: VaeEncodeOptions = {}): Promise<Posterior> {
    const scale = 2 ** (this.config.levels.length - 1)
    checkInput('encode', image, this.config.imageChannels, scale)
    const whole = (t: HostTensor) => this.session.run({ image: t }, this.weights)
    const tiling = vaeTilingFor(opts, (image.shape[2] / scale) * (image.shape[3] / scale))
    if (!tiling) {
      const out = await whole(image)
      return { mean: out.mean, logvar: out.logvar }
    }
    const z = this.config.zChannels
    const moments = await encodeTiled({
      image, tiling, scale, channels: 2 * z,
      encodeTile: async (t) => { const out = await whole(t); return concatChannels(out.mean, out.logvar) },
    })
    return { mean: sliceChannels(moments, 0, z), logvar: sliceChannels(moments, z, 2 * z) }
  }

  async release(): Promise<void> { await this.session.release() }
}
