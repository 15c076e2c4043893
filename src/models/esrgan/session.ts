/*
 * An ESRGAN-family upscaler loaded and ready: its file (.pth through the safe pickle reader, never executing pickle
 * code; or .safetensors) read whole (RealESRGAN_x4plus: 67 MB as float32), renamed to the BasicSR layout (RRDBNet) or
 * kept as `body.N` (SRVGGNetCompact, srvgg.ts), measured, built as a graph and run by onnxruntime on one image (or one
 * tile) at a time.
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { openTensorFile } from '../../formats/open.ts'
import { GraphSession } from '../../graph/session.ts'
import { WeightStore } from '../weights.ts'
import { buildEsrganGraph } from './graph.ts'
import { esrganRename, measureEsrgan, type EsrganConfig } from './layout.ts'
import { buildSrvggGraph, isSrvgg, measureSrvgg, srvggRename, type SrvggConfig } from './srvgg.ts'

export interface EsrganOptions {
  /** onnxruntime intra-op threads (default: all cores). */
  readonly threads?: number
}

/**
 * Reflect-pads [1, C, H, W] at the bottom and right to multiples of `m` (torch F.pad mode 'reflect', as Real-ESRGAN's
 * RealESRGANer.pre_process does for the pixel-unshuffled x2plus/x1 networks, which need sizes divisible by r).
 */
function padReflect(t: HostTensor, m: number): HostTensor {
  const [, c, h, w] = t.shape
  const ph = Math.ceil(h / m) * m
  const pw = Math.ceil(w / m) * m
  if (ph === h && pw === w) return t
  if (ph - h >= h || pw - w >= w) throw new InputError(`ESRGAN: a ${w}x${h} image is too small to pad to a multiple of ${m}`)
  const mirror = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i)
  const out = new Float32Array(c * ph * pw)
  for (let k = 0; k < c; k++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
    out[(k * ph + y) * pw + x] = t.data[(k * h + mirror(y, h)) * w + mirror(x, w)]
  }
  return { shape: [1, c, ph, pw], data: out }
}

/** The top-left [1, C, h, w] of [1, C, H, W]. */
function cropTopLeft(t: HostTensor, h: number, w: number): HostTensor {
  const [, c, H, W] = t.shape
  if (H === h && W === w) return t
  const out = new Float32Array(c * h * w)
  for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) out.set(t.data.subarray((k * H + y) * W, (k * H + y) * W + w), (k * h + y) * w)
  return { shape: [1, c, h, w], data: out }
}

export class EsrganNet {
  private constructor(readonly file: string, readonly config: EsrganConfig | SrvggConfig, private readonly session: GraphSession, private readonly weights: WeightStore) {}

  /** Reads, measures and builds an RRDBNet (either key layout) or SRVGGNetCompact file, told apart by its keys. */
  static async load(file: string, opts: EsrganOptions = {}): Promise<EsrganNet> {
    const source = await openTensorFile(file)
    const compact = isSrvgg(source.keys())
    let weights: WeightStore
    try { weights = await WeightStore.load(source, { rename: (compact ? srvggRename : esrganRename)(source.keys()) }) } finally { await source.close() }
    const measured = compact ? measureSrvgg(weights) : measureEsrgan(weights)
    const built = 'arch' in measured ? buildSrvggGraph(weights, measured) : buildEsrganGraph(weights, measured)
    // memPattern off: with symbolic H and W it over-reserves (as for the VAE).
    const session = await GraphSession.create(built.graph, { threads: opts.threads, weightKeys: built.weightKeys, memPattern: false })
    return new EsrganNet(file, measured, session, weights)
  }

  /** image [1, C, H, W] in [0, 1] → [1, C, H·scale, W·scale], not clamped. */
  async run(image: HostTensor): Promise<HostTensor> {
    const [b, c, h, w] = image.shape
    if (image.shape.length !== 4 || b !== 1 || c !== this.config.channels) {
      throw new InputError(`ESRGAN: expected an image [1, ${this.config.channels}, H, W], got [${image.shape.join(', ')}]`)
    }
    const out = await this.session.run({ image: padReflect(image, this.config.unshuffle) }, this.weights)
    return cropTopLeft(out.upscaled, h * this.config.scale, w * this.config.scale)
  }

  release(): Promise<void> { return this.session.release() }
}
