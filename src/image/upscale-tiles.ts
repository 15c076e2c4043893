/*
 * How A1111 runs an upscaler network over a picture (modules/upscaler_utils.py upscale_with_model, and
 * modules/images.py split_grid / combine_grid @ c8a5322d): the picture is cut into tile_size² tiles overlapping by
 * tile_overlap pixels (settings "Tile size for ESRGAN upscalers" 192 and "Tile overlap" 8; 0 = the whole picture at
 * once), each tile is run on its own, and the upscaled tiles are pasted back: in each row, a tile's first
 * overlap·scale columns blended over its left neighbour with a linear 'L' ramp, then rows blended the same way.
 * Conversions as the 1.10 line does them (torchvision v2): uint8 → float32 · (1/255), the network's output clamped
 * to [0, 1], times 255 in float32 and truncated (ToPILImage: `mul(255).byte()`); RGB order, no BGR flip.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import { div255 } from './pil-composite.ts'
import { newRaster, pasteAt, type Raster } from './raster.ts'

/** One network run: [1, 3, h, w] in [0, 1] → [1, 3, h·s, w·s]. */
export type TileModel = (image: HostTensor) => Promise<HostTensor>

export interface TileOptions {
  /** Tile side in pixels; 0 = no tiling (A1111 "ESRGAN_tile", default 192). */
  readonly tileSize: number
  /** Overlap in pixels (A1111 "ESRGAN_tile_overlap", default 8). */
  readonly tileOverlap: number
  readonly onTile?: (done: number, total: number) => void
  readonly signal?: AbortSignal
}

export const A1111_TILES: TileOptions = { tileSize: 192, tileOverlap: 8 }

const INV_255 = Math.fround(1 / 255)

function toTensor(img: Raster): HostTensor {
  const plane = img.width * img.height
  const data = new Float32Array(3 * plane)
  for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) data[c * plane + p] = Math.fround(img.data[p * img.channels + c] * INV_255)
  return { shape: [1, 3, img.height, img.width], data }
}

function fromTensor(t: HostTensor): Raster {
  const [, , h, w] = t.shape
  const out = newRaster(w, h, 3)
  const plane = w * h
  for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) {
    const v = t.data[c * plane + p]
    const clamped = v > 0 ? (v < 1 ? v : 1) : 0                           // NaN → 0
    out.data[p * 3 + c] = Math.trunc(Math.fround(clamped * 255))
  }
  return out
}

/** upscale_pil_patch: one tile (or the whole picture) through the network. */
export const upscalePatch = async (img: Raster, model: TileModel): Promise<Raster> => fromTensor(await model(toTensor(img)))

/** PIL crop((x, y, x + w, y + h)): parts outside the picture are black (a tile larger than the picture starts left of 0). */
function cropPadded(img: Raster, x: number, y: number, w: number, h: number): Raster {
  const out = newRaster(w, h, 3)
  pasteAt(out, img, -x, -y)
  return out
}

interface Tile { readonly x: number; readonly image: Raster }
interface Row { readonly y: number; readonly h: number; readonly tiles: Tile[] }

/** split_grid's tile origins along one axis. */
function origins(size: number, tile: number, overlap: number): number[] {
  const n = Math.max(Math.ceil((size - overlap) / (tile - overlap)), 1)
  const step = n > 1 ? (size - tile) / (n - 1) : 0
  return Array.from({ length: n }, (_, i) => {
    const at = Math.trunc(i * step)
    return at + tile >= size ? size - tile : at
  })
}

/** `r * 255 / overlap` as uint8 for r = 0 … overlap−1 (float32 numpy arithmetic, truncated). */
const ramp = (overlap: number): Uint8Array => Uint8Array.from({ length: overlap }, (_, r) => Math.trunc(Math.fround(Math.fround(r * 255) / overlap)))

/** dst.paste(src, (x, y), mask) where mask(sx, sy) is one ramp value per column (`byColumn`) or per row; clipped to dst. */
function pasteRamp(dst: Raster, src: Raster, x: number, y: number, mask: Uint8Array, byColumn: boolean): void {
  for (let sy = Math.max(0, -y); sy < src.height && y + sy < dst.height; sy++) {
    for (let sx = Math.max(0, -x); sx < src.width && x + sx < dst.width; sx++) {
      const m = byColumn ? mask[sx] : mask[sy]
      const d = ((y + sy) * dst.width + x + sx) * 3
      const s = (sy * src.width + sx) * 3
      for (let k = 0; k < 3; k++) dst.data[d + k] = div255(dst.data[d + k] * (255 - m) + src.data[s + k] * m)
    }
  }
}

const cropBox = (img: Raster, x1: number, y1: number, x2: number, y2: number): Raster => cropPadded(img, x1, y1, x2 - x1, y2 - y1)

/** combine_grid: rows of upscaled tiles (positions and overlap already scaled) into one picture. */
function combine(rows: readonly Row[], width: number, height: number, overlap: number): Raster {
  const out = newRaster(width, height, 3)
  const ramp1 = ramp(overlap)
  for (const row of rows) {
    const line = newRaster(width, row.h, 3)
    for (const t of row.tiles) {
      if (t.x === 0) { pasteAt(line, t.image, 0, 0); continue }
      pasteRamp(line, cropBox(t.image, 0, 0, overlap, row.h), t.x, 0, ramp1, true)
      pasteAt(line, cropBox(t.image, overlap, 0, t.image.width, row.h), t.x + overlap, 0)
    }
    if (row.y === 0) { pasteAt(out, line, 0, 0); continue }
    pasteRamp(out, cropBox(line, 0, 0, width, overlap), 0, row.y, ramp1, false)
    pasteAt(out, cropBox(line, 0, overlap, width, row.h), 0, row.y + overlap)
  }
  return out
}

/** upscale_with_model: the picture through `model`, tiled as A1111 tiles it. */
export async function upscaleWithModel(img: Raster, model: TileModel, opts: TileOptions = A1111_TILES): Promise<Raster> {
  const { tileSize: size, tileOverlap: overlap } = opts
  if (size <= 0) return upscalePatch(img, model)
  const xs = origins(img.width, size, overlap)
  const ys = origins(img.height, size, overlap)
  const rows: Row[] = []
  let scale = 1
  let done = 0
  for (const y of ys) {
    const tiles: Tile[] = []
    for (const x of xs) {
      opts.signal?.throwIfAborted()
      const out = await upscalePatch(cropPadded(img, x, y, size, size), model)
      scale = Math.trunc(out.width / size)
      tiles.push({ x: x * scale, image: out })
      opts.onTile?.(++done, xs.length * ys.length)
    }
    rows.push({ y: y * scale, h: size * scale, tiles })
  }
  return combine(rows, img.width * scale, img.height * scale, overlap * scale)
}
