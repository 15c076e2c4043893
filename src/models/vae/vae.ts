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
import { AUTO_TILE_ABOVE, decodeTiled, DEFAULT_VAE_TILING, SMALL_VAE_TILING, type VaeTiling } from './tiled.ts'

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
  /** Tile size and overlap (default: DEFAULT_VAE_TILING for 'auto', SMALL_VAE_TILING for 'on'). */
  readonly tile?: VaeTiling
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
    const mode = opts.tiling ?? 'auto'
    const whole = (t: HostTensor) => this.session.run({ z: t }, this.weights).then((out) => out.image)
    if (mode === 'off' || (mode === 'auto' && z.shape[2] * z.shape[3] <= AUTO_TILE_ABOVE)) return whole(z)
    const tiling = checkTiling(opts.tile ?? (mode === 'on' ? SMALL_VAE_TILING : DEFAULT_VAE_TILING))
    return decodeTiled({ z, tiling, scale: 2 ** (this.config.levels.length - 1), channels: this.config.imageChannels, decodeTile: whole })
  }

  async release(): Promise<void> { await this.session.release() }
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

  /** image [B, 3, H, W] in [-1, 1], H and W multiples of 8 → posterior moments. */
  async encode(image: HostTensor): Promise<Posterior> {
    checkInput('encode', image, this.config.imageChannels, 2 ** (this.config.levels.length - 1))
    const out = await this.session.run({ image }, this.weights)
    return { mean: out.mean, logvar: out.logvar }
  }

  async release(): Promise<void> { await this.session.release() }
}
