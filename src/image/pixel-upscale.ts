/*
 * A1111's pixel upscalers as hires fix calls them: `images.resize_image(0, img, W, H, upscaler_name)` → since the
 * scale is > 1, `Upscaler.upscale` (modules/upscaler.py @ c8a5322d): up to 3 rounds of the upscaler's own step while
 * the picture is smaller than int(w·scale)//8·8, then PIL LANCZOS to that multiple of 8 if it differs, then LANCZOS to
 * the exact target if that differs. "Lanczos" steps with PIL LANCZOS, "Nearest" with PIL NEAREST, ESRGAN models with
 * their network (models/esrgan), each by its own factor.
 */
import { InputError } from '../core/errors.ts'
import { newRaster, type Raster } from './raster.ts'
import { resample } from './pil-resample.ts'

export interface PixelUpscaler {
  readonly name: string
  /** One round of upscaling by `scale` (model upscalers ignore it and apply their own factor). */
  step(img: Raster, scale: number): Promise<Raster>
  /** Frees what a model upscaler holds (its network); a later step loads it again. */
  release?(): Promise<void>
}

/** PIL NEAREST resize: src = floor((dst + 0.5) · in/out) (ImagingTransform affine, nearest). */
export function resizeNearest(img: Raster, w: number, h: number): Raster {
  const out = newRaster(w, h, img.channels)
  const c = img.channels
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * img.height) / h), img.height - 1)
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.floor(((x + 0.5) * img.width) / w), img.width - 1)
      out.data.set(img.data.subarray((sy * img.width + sx) * c, (sy * img.width + sx + 1) * c), (y * w + x) * c)
    }
  }
  return out
}

export const LANCZOS_UPSCALER: PixelUpscaler = {
  name: 'Lanczos',
  step: async (img, scale) => resample(img, Math.trunc(img.width * scale), Math.trunc(img.height * scale), 'lanczos'),
}

export const NEAREST_UPSCALER: PixelUpscaler = {
  name: 'Nearest',
  step: async (img, scale) => resizeNearest(img, Math.trunc(img.width * scale), Math.trunc(img.height * scale)),
}

/**
 * `Upscaler.upscale(img, scale)`: up to 3 rounds of the upscaler's step until the picture reaches
 * int(w·scale)//8·8 × int(h·scale)//8·8 (at scale 1 one round runs anyway: a 1x restoration model), then LANCZOS to
 * that size if it differs. The extras tab ("Upscale by") calls this directly.
 */
export async function upscaleBy(img: Raster, scale: number, upscaler: PixelUpscaler): Promise<Raster> {
  const destW = Math.trunc(Math.floor(img.width * scale / 8) * 8)
  const destH = Math.trunc(Math.floor(img.height * scale / 8) * 8)
  let out = img
  for (let i = 0; i < 3; i++) {
    if (out.width >= destW && out.height >= destH && (i > 0 || scale !== 1)) break
    const before = out
    out = await upscaler.step(out, scale)
    if (out.width === before.width && out.height === before.height) break
  }
  return out.width !== destW || out.height !== destH ? resample(out, destW, destH, 'lanczos') : out
}

/** resize_image(0, img, width, height, upscaler) as hires fix runs it. */
export async function upscaleTo(img: Raster, width: number, height: number, upscaler: PixelUpscaler): Promise<Raster> {
  const scale = Math.max(width / img.width, height / img.height)
  const out = scale > 1 ? await upscaleBy(img, scale, upscaler) : img
  return out.width !== width || out.height !== height ? resample(out, width, height, 'lanczos') : out
}

export function pixelUpscaler(name: string, models: readonly PixelUpscaler[] = []): PixelUpscaler {
  const all = [LANCZOS_UPSCALER, NEAREST_UPSCALER, ...models]
  const found = all.find((u) => u.name === name)
  if (!found) throw new InputError(`unknown upscaler "${name}". Hint: one of ${all.map((u) => u.name).join(', ')} or a "Latent …" upscaler.`)
  return found
}
