/*
 * `generate`'s TAESD flags: `--decoder taesd` decodes the final image with TAESD instead of the VAE, `--preview FILE`
 * writes a live preview every `--preview-every N` steps (atomically: temp file + rename), with TAESD when a decoder
 * file is found (--taesd FILE, else models/VAE-approx or models/vae_approx beside the working directory or the
 * checkpoint's web UI folder), else A1111's cheap latent projection (said once, never a silent switch).
 */
import { dirname } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { imageToUint8 } from '../../image/to-uint8.ts'
import { writePng } from '../../image/png.ts'
import { findTaesd, TaesdDecoder } from '../../models/taesd/index.ts'
import { cheapPreview } from '../../pipeline/latent-preview.ts'
import type { LatentDecoder } from '../../pipeline/decode.ts'
import type { LoadedModel } from '../../pipeline/load-model.ts'
import type { BatchProgress } from '../../pipeline/run-batches.ts'

export interface FastDecodeFlags {
  readonly decoder: 'vae' | 'taesd'
  readonly taesd?: string
  readonly preview?: string
  readonly previewEvery: number
}

export interface FastDecode {
  /** For RunOptions.decoder (undefined: the VAE). */
  readonly decoder: LatentDecoder | undefined
  /** Call from onProgress; previews are written in the background, one at a time (a busy step skips one). */
  readonly onProgress: (p: BatchProgress) => void
  /** Waits for the last preview (its error, if any, is thrown here) and releases TAESD. */
  finish(): Promise<void>
}

export async function fastDecode(model: LoadedModel, flags: FastDecodeFlags, warn: (line: string) => void): Promise<FastDecode> {
  if (flags.decoder === 'vae' && flags.preview === undefined) return { decoder: undefined, onProgress: () => {}, finish: async () => {} }
  // models/Stable-diffusion/FILE → the web UI folder that holds models/
  const roots = [process.cwd(), dirname(dirname(dirname(model.file)))]
  const file = findTaesd({ family: model.arch === 'sdxl' ? 'sdxl' : 'sd', part: 'decoder', file: flags.taesd, roots })
  if (flags.decoder === 'taesd' && !file) {
    throw new InputError(`--decoder taesd: no ${model.arch === 'sdxl' ? 'taesdxl' : 'taesd'}_decoder file in models/VAE-approx or models/vae_approx `
      + `(looked under ${roots.join(', ')}). Hint: download it from madebyollin/taesd${model.arch === 'sdxl' ? 'xl' : ''} or give --taesd FILE.`)
  }
  const taesd = file ? await TaesdDecoder.load(file) : undefined
  if (flags.preview !== undefined && !taesd) warn('--preview: no TAESD decoder found; previews use the cheap latent projection (1/8 size)')
  let pending: Promise<void> = Promise.resolve()
  let busy = false
  let failure: unknown
  const writePreview = async (p: BatchProgress): Promise<void> => {
    const [c, h, w] = p.latentShape
    const x0 = { shape: [1, c, h, w], data: p.denoised.slice(0, c * h * w) }
    const rgb = taesd ? imageToUint8(await taesd.decode(x0)) : cheapPreview(x0.data, p.latentShape, 0, model.arch)
    await writePng(flags.preview!, rgb)
  }
  return {
    decoder: flags.decoder === 'taesd' && taesd ? (latent) => taesd.decode(latent) : undefined,
    onProgress: (p) => {
      if (flags.preview === undefined || busy || (p.step % flags.previewEvery !== 0 && p.step !== p.steps)) return
      busy = true
      pending = writePreview(p).catch((e: unknown) => { failure ??= e }).finally(() => { busy = false })
    },
    async finish() {
      await pending
      await taesd?.release()
      if (failure !== undefined) throw failure
    },
  }
}
