/*
 * PIL's convolution resampler for 8-bit images (Pillow 9.4 libImaging/Resample.c, ImagingResample), ported so
 * that A1111's resizes (`Image.resize(..., LANCZOS)`, the BICUBIC default) give the same bytes: coefficients in
 * double, normalised, then 22-bit fixed point; a horizontal pass into an 8-bit temporary (only the rows the
 * vertical pass reads), then a vertical pass; each output = clip8((Σ in·k + 2^21) >> 22).
 * libvips' Lanczos differs from it (other support and rounding), hence the port.
 */
import { newRaster, type Raster } from './raster.ts'

export type ResampleFilter = 'lanczos' | 'bicubic' | 'bilinear'

const sinc = (x: number): number => {
  if (x === 0) return 1
  const px = x * Math.PI
  return Math.sin(px) / px
}

/** Resample.c filters: support and kernel. */
const FILTERS: Record<ResampleFilter, { readonly support: number; readonly f: (x: number) => number }> = {
  lanczos: { support: 3, f: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5
      const ax = Math.abs(x)
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a
      return 0
    },
  },
  bilinear: { support: 1, f: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
}

const PRECISION_BITS = 32 - 8 - 2

interface Coeffs { readonly ksize: number; readonly bounds: Int32Array; readonly kk: Int32Array }

/** precompute_coeffs + normalize_coeffs_8bpc for one axis: output pixel i reads in[bounds[2i] .. +bounds[2i+1]). */
function coefficients(inSize: number, in0: number, in1: number, outSize: number, filter: ResampleFilter): Coeffs {
  const { support: fs, f } = FILTERS[filter]
  const scale = (in1 - in0) / outSize
  const filterscale = Math.max(scale, 1)
  const support = fs * filterscale
  const ksize = Math.ceil(support) * 2 + 1
  const bounds = new Int32Array(outSize * 2)
  const kk = new Int32Array(outSize * ksize)
  const k = new Float64Array(ksize)
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale
    const ss = 1 / filterscale
    // C's (int) cast truncates towards zero, which matters for the negative starts of A1111's zero-height boxes.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0)
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin
    let ww = 0
    for (let x = 0; x < xmax; x++) { k[x] = f((x + xmin - center + 0.5) * ss); ww += k[x] }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x]
      kk[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS))
    }
    bounds[xx * 2] = xmin
    bounds[xx * 2 + 1] = Math.max(xmax, 0)
  }
  return { ksize, bounds, kk }
}

/** clip8: the fixed-point sum shifted down (arithmetic shift = floor), clamped to a byte. */
const clip8 = (ss: number): number => {
  const v = Math.floor(ss / (1 << PRECISION_BITS))
  return v < 0 ? 0 : v > 255 ? 255 : v
}

function horizontal(src: Raster, rowStart: number, rows: number, outW: number, co: Coeffs): Raster {
  const out = newRaster(outW, rows, src.channels)
  const c = src.channels
  for (let y = 0; y < rows; y++) {
    const line = (y + rowStart) * src.width
    for (let xx = 0; xx < outW; xx++) {
      const xmin = co.bounds[xx * 2]
      const xmax = co.bounds[xx * 2 + 1]
      const kb = xx * co.ksize
      for (let ch = 0; ch < c; ch++) {
        let ss = 1 << (PRECISION_BITS - 1)
        for (let x = 0; x < xmax; x++) ss += src.data[(line + xmin + x) * c + ch] * co.kk[kb + x]
        out.data[(y * outW + xx) * c + ch] = clip8(ss)
      }
    }
  }
  return out
}

function vertical(src: Raster, outH: number, co: Coeffs, rowShift: number): Raster {
  const out = newRaster(src.width, outH, src.channels)
  const c = src.channels
  const w = src.width
  for (let yy = 0; yy < outH; yy++) {
    const ymin = co.bounds[yy * 2] - rowShift
    const ymax = co.bounds[yy * 2 + 1]
    const kb = yy * co.ksize
    for (let i = 0; i < w * c; i++) {
      let ss = 1 << (PRECISION_BITS - 1)
      for (let y = 0; y < ymax; y++) ss += src.data[(ymin + y) * w * c + i] * co.kk[kb + y]
      out.data[yy * w * c + i] = clip8(ss)
    }
  }
  return out
}

/** Source rectangle of a resize (PIL's `box`: left, top, right, bottom in source pixels, may have zero size). */
export interface ResampleBox { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number }

/**
 * PIL `img.resize((outW, outH), filter, box)` of an 8-bit raster with every channel resampled on its own (PIL
 * premultiplies RGBA first: flatten alpha before calling this).
 */
export function resample(src: Raster, outW: number, outH: number, filter: ResampleFilter, box?: ResampleBox): Raster {
  const b = box ?? { x0: 0, y0: 0, x1: src.width, y1: src.height }
  if (b.x0 < 0 || b.y0 < 0 || b.x1 > src.width || b.y1 > src.height || b.x1 < b.x0 || b.y1 < b.y0) {
    throw new RangeError(`resample: box (${b.x0}, ${b.y0}, ${b.x1}, ${b.y1}) outside the ${src.width}x${src.height} image`)
  }
  const needH = outW !== src.width || b.x0 !== 0 || b.x1 !== outW
  const needV = outH !== src.height || b.y0 !== 0 || b.y1 !== outH
  const ch = coefficients(src.width, b.x0, b.x1, outW, filter)
  const cv = coefficients(src.height, b.y0, b.y1, outH, filter)
  let img = src
  let rowShift = 0
  if (needH) {
    const first = cv.bounds[0]
    const last = cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1]
    img = horizontal(src, needV ? first : 0, needV ? last - first : src.height, outW, ch)
    rowShift = needV ? first : 0
  }
  if (needV) return vertical(img, outH, cv, rowShift)
  return img === src ? { ...src, data: src.data.slice() } : img
}
