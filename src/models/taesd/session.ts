/*
 * TAESD sessions. The decoder takes the sampler's latent AS IT IS (UNet space: not divided by the VAE scale factor)
 * and gives an image in about [0, 1]; `decode` maps it to the full VAE's [-1, 1] (A1111's approximation 3:
 * `x * 2 - 1`), so callers convert either decoder's output to 8 bits the same way (image/to-uint8.ts).
 * The encoder takes an image in [0, 1] and gives UNet-space latents (no scale factor to apply).
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { openTensorFile } from '../../formats/open.ts'
import { GraphSession } from '../../graph/session.ts'
import { WeightStore } from '../weights.ts'
import { buildTaesdGraph } from './graph.ts'
import { measureTaesd, type TaesdConfig } from './layout.ts'

export interface TaesdOptions {
  /** onnxruntime intra-op threads (default: all cores). */
  readonly threads?: number
}

function checkInput(what: string, t: HostTensor, channels: number, multiple: number): void {
  const [, c, h, w] = t.shape
  if (t.shape.length !== 4 || c !== channels || h % multiple !== 0 || w % multiple !== 0 || h === 0 || w === 0) {
    throw new InputError(`TAESD ${what}: expected [B, ${channels}, H, W]${multiple > 1 ? ` with H and W multiples of ${multiple}` : ''}, `
      + `got [${t.shape.join(', ')}]`)
  }
}

/** Maps each value v to float32 `v * 2 - 1` (A1111: `x_sample * 2 - 1` on a float32 tensor) or back. */
const affine = (t: HostTensor, scale: number, shift: number): HostTensor =>
  ({ shape: t.shape, data: t.data.map((v) => Math.fround(Math.fround(v * scale) + shift)) })

/** One built half: its measured config, onnxruntime session and weights (held by TaesdDecoder / TaesdEncoder). */
class TaesdNet {
  private constructor(readonly config: TaesdConfig, private readonly session: GraphSession, private readonly weights: WeightStore) {}

  /** Weights of a file (.pth through the safe pickle reader, or .safetensors), read whole: ~5 MB. */
  static async read(file: string): Promise<WeightStore> {
    const source = await openTensorFile(file)
    try { return await WeightStore.load(source) } finally { await source.close() }
  }

  static async build(weights: WeightStore, part: TaesdConfig['part'], opts: TaesdOptions): Promise<TaesdNet> {
    const config = measureTaesd(weights, part)
    const built = buildTaesdGraph(weights, config)
    // TAESD's ~5 MB of weights never change (no adapter patches them), so they are baked in as constants: onnxruntime
    // then runs its blocked (NCHWc) convolutions on prepacked weights, 0.77× the time of weights fed per run.
    built.graph.freezeInputs(new Map(built.weightKeys.map((k) => [k, weights.get(k)])))
    // memPattern off: with symbolic H and W it over-reserves (as for the full VAE, vae.ts).
    const session = await GraphSession.create(built.graph, { threads: opts.threads, weightKeys: [], memPattern: false })
    return new TaesdNet(config, session, weights)
  }

  async run(name: string, x: HostTensor): Promise<HostTensor> {
    const out = await this.session.run({ [name]: x }, this.weights)
    return Object.values(out)[0]
  }

  async release(): Promise<void> { await this.session.release() }
}

export class TaesdDecoder {
  private constructor(private readonly net: TaesdNet) {}

  /** Loads `taesd_decoder` / `taesdxl_decoder` (.pth through the safe pickle reader, or .safetensors). */
  static async load(file: string, opts: TaesdOptions = {}): Promise<TaesdDecoder> {
    return TaesdDecoder.create(await TaesdNet.read(file), opts)
  }

  static async create(weights: WeightStore, opts: TaesdOptions = {}): Promise<TaesdDecoder> {
    return new TaesdDecoder(await TaesdNet.build(weights, 'decoder', opts))
  }

  get config(): TaesdConfig { return this.net.config }

  /** latent [B, z, h, w] (UNet space) → image [B, 3, 8h, 8w] in about [0, 1], not clamped. */
  async decodeUnit(latent: HostTensor): Promise<HostTensor> {
    checkInput('decode', latent, this.config.latentChannels, 1)
    return this.net.run('latent', latent)
  }

  /** latent [B, z, h, w] (UNet space) → image [B, 3, 8h, 8w] in about [-1, 1]: the full VAE decoder's contract. */
  async decode(latent: HostTensor): Promise<HostTensor> {
    return affine(await this.decodeUnit(latent), 2, -1)
  }

  release(): Promise<void> { return this.net.release() }
}

export class TaesdEncoder {
  private constructor(private readonly net: TaesdNet) {}

  static async load(file: string, opts: TaesdOptions = {}): Promise<TaesdEncoder> {
    return TaesdEncoder.create(await TaesdNet.read(file), opts)
  }

  static async create(weights: WeightStore, opts: TaesdOptions = {}): Promise<TaesdEncoder> {
    return new TaesdEncoder(await TaesdNet.build(weights, 'encoder', opts))
  }

  get config(): TaesdConfig { return this.net.config }

  /** image [B, 3, H, W] in [0, 1], H and W multiples of 8 → latent [B, z, H/8, W/8] (UNet space). */
  async encodeUnit(image: HostTensor): Promise<HostTensor> {
    checkInput('encode', image, 3, 8)
    return this.net.run('image', image)
  }

  /** image in [-1, 1] (the full VAE encoder's input) → UNet-space latent. */
  async encode(image: HostTensor): Promise<HostTensor> {
    return this.encodeUnit(affine(image, 0.5, 0.5))
  }

  release(): Promise<void> { return this.net.release() }
}
