/*
 * Live previews of a request, as A1111's live preview methods: "Approx cheap" (a fixed linear map of the latent,
 * pipeline/latent-preview.ts: 1/8 of the image's size, microseconds) or "TAESD" (the tiny decoder network,
 * models/taesd: the image's size, a fraction of a UNet step). The engine keeps one TAESD decoder per latent family
 * (SD1/SD2 share `taesd`, SDXL has `taesdxl`), loaded on the first request that asks for it; when the resolver knows
 * no TAESD file for the family, previews fall back to the cheap projection and the request gets one warning.
 */
import { imageToUint8 } from '../image/to-uint8.ts'
import { TaesdDecoder, type TaesdFamily } from '../models/taesd/index.ts'
import { cheapPreview } from '../pipeline/latent-preview.ts'
import type { Arch } from '../pipeline/load-model.ts'
import type { BatchProgress } from '../pipeline/run-batches.ts'
import type { EngineEvent, ModelResolver, RgbImage } from './contract.ts'

export type PreviewMethod = 'cheap' | 'taesd'

/** The first image's preview of a step; a promise for TAESD (the engine emits step events in order, awaiting it). */
export type Previewer = (p: BatchProgress) => RgbImage | Promise<RgbImage>

type StepEvent = Extract<EngineEvent, { type: 'step' }>
/** A step event whose preview may still be decoding (the engine awaits it, in order, before the caller sees it). */
export type PendingEvent = Exclude<EngineEvent, StepEvent> | (Omit<StepEvent, 'preview'> & { readonly preview?: RgbImage | Promise<RgbImage> })

/** The event as the caller sees it; a preview that failed to decode is left out (the step still counts). */
export async function settled(e: PendingEvent): Promise<EngineEvent> {
  if (e.type !== 'step' || !(e.preview instanceof Promise)) return e as EngineEvent
  const { preview, ...step } = e
  const image = await preview.catch(() => undefined)
  return image ? { ...step, preview: image } : step
}

export const taesdFamily = (arch: Arch): TaesdFamily => (arch === 'sdxl' ? 'sdxl' : 'sd')

export class PreviewDecoders {
  private readonly decoders = new Map<TaesdFamily, { readonly file: string; readonly decoder: Promise<TaesdDecoder> }>()

  /** TAESD decoders loaded so far (tests and the benchmark count them). */
  loads = 0

  constructor(private readonly threads?: number) {}

  /** The family's decoder for `file`, loaded once (another file for the family replaces it). */
  private decoder(family: TaesdFamily, file: string): Promise<TaesdDecoder> {
    const held = this.decoders.get(family)
    if (held?.file === file) return held.decoder
    if (held) void held.decoder.then((d) => d.release(), () => undefined)
    this.loads++
    const decoder = TaesdDecoder.load(file, { threads: this.threads })
    this.decoders.set(family, { file, decoder })
    decoder.catch(() => { if (this.decoders.get(family)?.decoder === decoder) this.decoders.delete(family) })
    return decoder
  }

  /** The previewer of one request, and a warning when TAESD was asked for but there is none for this model. */
  async previewer(method: PreviewMethod, arch: Arch, resolver: ModelResolver): Promise<{ preview: Previewer; warning?: string }> {
    const cheap: Previewer = (p) => cheapPreview(p.denoised, p.latentShape, 0, arch)
    if (method === 'cheap') return { preview: cheap }
    const family = taesdFamily(arch)
    const file = await resolver.taesd?.(family)
    if (file === undefined) {
      return { preview: cheap, warning: `no ${family === 'sdxl' ? 'taesdxl' : 'taesd'}_decoder file (models/VAE-approx or models/vae_approx); previews use the cheap latent projection (1/8 size)` }
    }
    const decoder = await this.decoder(family, file)
    return {
      preview: (p) => {
        const [c, h, w] = p.latentShape
        // a copy now: the sampler reuses its arrays before the decode runs
        const x0 = { shape: [1, c, h, w], data: p.denoised.slice(0, c * h * w) }
        return decoder.decode(x0).then(imageToUint8)
      },
    }
  }

  async release(): Promise<void> {
    const held = [...this.decoders.values()]
    this.decoders.clear()
    await Promise.allSettled(held.map(async (h) => (await h.decoder).release()))
  }
}
