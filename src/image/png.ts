/*
 * PNG pixels. Spec (https://www.w3.org/TR/png-3/): IHDR = width u32, height u32, bit depth u8, colour type u8
 * (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA), compression 0, filter method 0, interlace 0|1.
 * IDAT chunks concatenate to one zlib stream of scanlines, each prefixed by a filter byte
 * (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth; §9.2). We write 8-bit RGB, non-interlaced, and read 8-bit
 * non-interlaced images of every colour type (all that SD front-ends produce).
 */
import { deflateSync, inflateSync } from 'node:zlib'
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../core/atomic-write.ts'
import { PngError, PNG_SIGNATURE, encodeChunk, encodeTextChunk, readPngChunks, decodeTextChunks, type PngChunk } from './png-chunks.ts'

/** 8-bit RGB pixels, row-major HWC (the layout of A1111's `np.uint8` image and of PNG scanlines). */
export interface RgbImage {
  readonly width: number
  readonly height: number
  /** [height, width, 3] */
  readonly data: Uint8Array
}

export interface DecodedPng extends RgbImage {
  /** [height, width] alpha plane, present when the file has alpha (colour type 4 or 6, or a palette tRNS). */
  readonly alpha?: Uint8Array
  /** tEXt / zTXt / iTXt chunks by keyword (the first wins when a keyword repeats, as in PIL). */
  readonly text: Readonly<Record<string, string>>
}

export interface EncodePngOptions {
  /** Text chunks (A1111 writes its infotext as `parameters`). */
  readonly text?: Readonly<Record<string, string>>
  /** 'adaptive' picks the filter per row by least sum of absolute values (libpng's heuristic); 'none' is filter 0. */
  readonly filter?: 'none' | 'adaptive'
  /** zlib level 0-9 (default 6, like libpng and PIL). */
  readonly level?: number
}

const paeth = (a: number, b: number, c: number): number => {
  const p = a + b - c
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** Writes filter `type` of `row` (previous row `prev`, `bpp` bytes per pixel) into `out`. */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0
    const b = prev[i]
    const c = i >= bpp ? prev[i - bpp] : 0
    const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c)
    out[i] = (row[i] - pred) & 0xff
  }
}

const sumAbs = (f: Uint8Array): number => {
  let s = 0
  for (let i = 0; i < f.length; i++) s += f[i] < 128 ? f[i] : 256 - f[i]
  return s
}

function filterScanlines(img: RgbImage, adaptive: boolean): Uint8Array {
  const stride = img.width * 3
  const out = new Uint8Array((stride + 1) * img.height)
  const zero = new Uint8Array(stride)
  const trial = new Uint8Array(stride)
  for (let y = 0; y < img.height; y++) {
    const row = img.data.subarray(y * stride, (y + 1) * stride)
    const prev = y > 0 ? img.data.subarray((y - 1) * stride, y * stride) : zero
    const dst = out.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    let best = 0
    filterRow(0, row, prev, 3, dst)
    if (adaptive) {
      let bestSum = sumAbs(dst)
      for (let type = 1; type <= 4; type++) {
        filterRow(type, row, prev, 3, trial)
        const s = sumAbs(trial)
        if (s < bestSum) { bestSum = s; best = type; dst.set(trial) }
      }
    }
    out[y * (stride + 1)] = best
  }
  return out
}

/** Encodes 8-bit RGB pixels (plus optional text chunks) as a PNG file's bytes. */
export function encodePng(img: RgbImage, opts: EncodePngOptions = {}): Uint8Array {
  const { width, height } = img
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new RangeError(`encodePng: bad size ${width}x${height}`)
  }
  if (img.data.length !== width * height * 3) {
    throw new RangeError(`encodePng: expected ${width * height * 3} bytes for ${width}x${height} RGB, got ${img.data.length}`)
  }
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr.set([8, 2, 0, 0, 0], 8) // depth 8, RGB, deflate, filter method 0, no interlace
  const idat = deflateSync(filterScanlines(img, (opts.filter ?? 'adaptive') === 'adaptive'), { level: opts.level ?? 6 })
  const text = Object.entries(opts.text ?? {}).map(([k, v]) => encodeTextChunk(k, v))
  return Buffer.concat([PNG_SIGNATURE, encodeChunk('IHDR', ihdr), ...text, encodeChunk('IDAT', idat), encodeChunk('IEND', new Uint8Array(0))])
}

/** Encodes and writes a PNG through a temp file + rename. */
export async function writePng(file: string, img: RgbImage, opts: EncodePngOptions = {}): Promise<void> {
  await writeFileAtomic(file, encodePng(img, opts))
}

interface Header { width: number; height: number; depth: number; colorType: number; interlace: number }

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }

function parseHeader(file: string, ihdr: Uint8Array): Header {
  if (ihdr.length !== 13) throw new PngError(file, `IHDR must be 13 bytes, found ${ihdr.length}`)
  const view = new DataView(ihdr.buffer, ihdr.byteOffset, 13)
  const h = { width: view.getUint32(0), height: view.getUint32(4), depth: ihdr[8], colorType: ihdr[9], interlace: ihdr[12] }
  if (h.width === 0 || h.height === 0) throw new PngError(file, `IHDR: size ${h.width}x${h.height} is empty`)
  if (CHANNELS[h.colorType] === undefined) throw new PngError(file, `IHDR: unknown colour type ${h.colorType}`)
  if (ihdr[10] !== 0 || ihdr[11] !== 0) throw new PngError(file, `IHDR: unknown compression ${ihdr[10]} or filter method ${ihdr[11]}`)
  if (h.depth !== 8 || h.interlace !== 0) {
    throw new PngError(file, `only 8-bit non-interlaced PNGs are read; this one has bit depth ${h.depth}${h.interlace ? ', Adam7 interlacing' : ''}. Hint: re-save it as 8-bit RGB`)
  }
  return h
}

/** Undoes the per-row filters in place on `raw` (filter byte + row, repeated) and returns the packed rows. */
function unfilter(file: string, raw: Uint8Array, h: Header): Uint8Array {
  const bpp = CHANNELS[h.colorType]
  const stride = h.width * bpp
  if (raw.length !== (stride + 1) * h.height) {
    throw new PngError(file, `image data inflates to ${raw.length} bytes, expected ${(stride + 1) * h.height} for ${h.width}x${h.height}`)
  }
  const out = new Uint8Array(stride * h.height)
  for (let y = 0; y < h.height; y++) {
    const type = raw[y * (stride + 1)]
    if (type > 4) throw new PngError(file, `row ${y}: unknown filter type ${type}`)
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const row = out.subarray(y * stride, (y + 1) * stride)
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0
      const b = y > 0 ? out[(y - 1) * stride + i] : 0
      const c = i >= bpp && y > 0 ? out[(y - 1) * stride + i - bpp] : 0
      const pred = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c)
      row[i] = (src[i] + pred) & 0xff
    }
  }
  return out
}

function toRgb(file: string, px: Uint8Array, h: Header, chunks: readonly PngChunk[]): { data: Uint8Array; alpha?: Uint8Array } {
  if (h.colorType === 2) return { data: px }
  if (h.colorType === 3) return paletteToRgb(file, px, chunks)
  const n = h.width * h.height
  const data = new Uint8Array(n * 3)
  const ch = CHANNELS[h.colorType]
  const hasAlpha = h.colorType === 4 || h.colorType === 6
  const alpha = hasAlpha ? new Uint8Array(n) : undefined
  for (let i = 0; i < n; i++) {
    const grey = ch <= 2
    data[i * 3] = px[i * ch]
    data[i * 3 + 1] = px[i * ch + (grey ? 0 : 1)]
    data[i * 3 + 2] = px[i * ch + (grey ? 0 : 2)]
    if (alpha) alpha[i] = px[i * ch + ch - 1]
  }
  return alpha ? { data, alpha } : { data }
}

function paletteToRgb(file: string, px: Uint8Array, chunks: readonly PngChunk[]): { data: Uint8Array; alpha?: Uint8Array } {
  const plte = chunks.find((c) => c.type === 'PLTE')?.data
  if (!plte || plte.length % 3 !== 0) throw new PngError(file, 'palette image without a valid PLTE chunk')
  const trns = chunks.find((c) => c.type === 'tRNS')?.data
  const data = new Uint8Array(px.length * 3)
  const alpha = trns ? new Uint8Array(px.length) : undefined
  for (let i = 0; i < px.length; i++) {
    const k = px[i]
    if (k * 3 >= plte.length) throw new PngError(file, `pixel ${i}: palette index ${k} outside the ${plte.length / 3}-entry PLTE`)
    data.set(plte.subarray(k * 3, k * 3 + 3), i * 3)
    if (alpha && trns) alpha[i] = k < trns.length ? trns[k] : 255
  }
  return alpha ? { data, alpha } : { data }
}

export interface DecodePngOptions {
  /** Images with more pixels are refused after IHDR, before anything is inflated (default DEFAULT_MAX_PIXELS). */
  readonly maxPixels?: number
}

/**
 * 64 megapixels (8192²): ~0.6 GB of working memory here (filtered rows, packed rows, RGB and alpha planes). A
 * 100-megapixel upload or a small "decompression bomb" declaring one is refused before it is inflated.
 */
export const DEFAULT_MAX_PIXELS = 8192 * 8192

/**
 * Inflates the IDAT stream to exactly the size IHDR implies ((stride + 1) × height): zlib stops at that bound, so a
 * decompression bomb costs at most the memory its header declared (already checked against maxPixels).
 */
function inflateImageData(file: string, idat: readonly Uint8Array[], h: Header): Uint8Array {
  const expected = (h.width * CHANNELS[h.colorType] + 1) * h.height
  try {
    return inflateSync(Buffer.concat(idat), { maxOutputLength: expected })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PngError(file, `image data inflates to more than the ${expected} bytes a ${h.width}x${h.height} image needs; the file is corrupt or hostile`)
    }
    throw new PngError(file, `image data does not inflate (${(e as Error).message}); the file is corrupt`)
  }
}

/** Decodes a PNG: validated chunks, RGB pixels (alpha apart) and text chunks. Memory is bounded by `maxPixels`. */
export function decodePng(bytes: Uint8Array, file = '<png>', opts: DecodePngOptions = {}): DecodedPng {
  const chunks = readPngChunks(bytes, file)
  const h = parseHeader(file, chunks[0].data)
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS
  if (h.width * h.height > maxPixels) {
    throw new PngError(file, `${h.width}x${h.height} is ${h.width * h.height} pixels, above the limit of ${maxPixels}. Hint: downscale the image first`)
  }
  const idat = chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)
  if (idat.length === 0) throw new PngError(file, 'no IDAT chunk: the file holds no image data')
  const { data, alpha } = toRgb(file, unfilter(file, inflateImageData(file, idat, h), h), h, chunks)
  const text: Record<string, string> = {}
  for (const t of decodeTextChunks(chunks, file)) if (!Object.hasOwn(text, t.keyword)) text[t.keyword] = t.text
  return alpha ? { width: h.width, height: h.height, data, alpha, text } : { width: h.width, height: h.height, data, text }
}

export async function readPng(file: string, opts: DecodePngOptions = {}): Promise<DecodedPng> {
  return decodePng(await readFile(file), file, opts)
}
