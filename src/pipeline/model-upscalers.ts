/*
 * Network upscalers under A1111's names, found where A1111 keeps them (modules/esrgan_model.py, realesrgan_model.py
 * @ c8a5322d): every .pth/.pt/.safetensors in models/ESRGAN is offered by its file name without the extension (the
 * default download is "ESRGAN_4x"); models/RealESRGAN files carry fixed names ("R-ESRGAN 4x+" is
 * RealESRGAN_x4plus.pth). Each runs as an RRDBNet graph (models/esrgan), tiled as A1111 tiles it (image/upscale-tiles),
 * loaded on its first use and released by the caller.
 */
import { readdir } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { EsrganNet } from '../models/esrgan/index.ts'
import type { PixelUpscaler } from '../image/pixel-upscale.ts'
import { A1111_TILES, upscaleWithModel, type TileOptions } from '../image/upscale-tiles.ts'

export interface UpscalerModelFile {
  /** The name A1111 shows and writes as "Hires upscaler". */
  readonly name: string
  readonly file: string
}

/** Real-ESRGAN's fixed names (realesrgan_model.py get_realesrgan_models). The SRVGG ones (General, AnimeVideo) run as SRVGGNetCompact (models/esrgan/srvgg.ts). */
export const REAL_ESRGAN_FILES: Readonly<Record<string, string>> = {
  'R-ESRGAN General 4xV3': 'realesr-general-x4v3.pth',
  'R-ESRGAN General WDN 4xV3': 'realesr-general-wdn-x4v3.pth',
  'R-ESRGAN AnimeVideo': 'realesr-animevideov3.pth',
  'R-ESRGAN 4x+': 'RealESRGAN_x4plus.pth',
  'R-ESRGAN 4x+ Anime6B': 'RealESRGAN_x4plus_anime_6B.pth',
  'R-ESRGAN 2x+': 'RealESRGAN_x2plus.pth',
}

const EXTENSIONS = new Set(['.pth', '.pt', '.safetensors'])

async function filesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw e
  }
}

/**
 * The upscaler models under an A1111 folder: `root` may be the webui folder (root/models/ESRGAN) or its models
 * folder (root/ESRGAN). ESRGAN files first, then Real-ESRGAN's, as A1111 lists them.
 */
export async function findUpscalerModels(root: string): Promise<UpscalerModelFile[]> {
  const out: UpscalerModelFile[] = []
  for (const models of [join(root, 'models'), root]) {
    const esrgan = join(models, 'ESRGAN')
    for (const f of await filesIn(esrgan)) if (EXTENSIONS.has(extname(f).toLowerCase())) out.push({ name: basename(f, extname(f)), file: join(esrgan, f) })
    const real = join(models, 'RealESRGAN')
    const present = new Set(await filesIn(real))
    for (const [name, f] of Object.entries(REAL_ESRGAN_FILES)) if (present.has(f)) out.push({ name, file: join(real, f) })
  }
  return out
}

export interface ModelUpscaler extends PixelUpscaler {
  /** Frees the network (a later step loads it again). */
  release(): Promise<void>
}

export interface ModelUpscalerOptions extends Partial<TileOptions> {
  readonly threads?: number
}

/** A file as a PixelUpscaler: each step is one pass of the network at its own scale (hires' `scale` is not its). */
export function modelUpscaler(m: UpscalerModelFile, opts: ModelUpscalerOptions = {}): ModelUpscaler {
  let net: Promise<EsrganNet> | undefined
  const tiles: TileOptions = { ...A1111_TILES, ...opts }
  return {
    name: m.name,
    async step(img) {
      net ??= EsrganNet.load(m.file, { threads: opts.threads })
      const loaded = await net
      return upscaleWithModel(img, (t) => loaded.run(t), tiles)
    },
    async release() {
      const held = net
      net = undefined
      // a load that failed has already thrown to the step that started it: nothing is held then
      if (held) await held.then((n) => n.release(), () => undefined)
    },
  }
}
