/*
 * A1111's mask blur (modules/processing.py @ c8a5322d, StableDiffusionProcessingImg2Img.init):
 *   k = 2 * int(2.5 * blur + 0.5) + 1
 *   m = cv2.GaussianBlur(m, (k, 1), blur); m = cv2.GaussianBlur(m, (1, k), blur)      # two calls, uint8 between
 * OpenCV (4.6, imgproc/src/smooth.dispatch.cpp) takes its bit-exact uint8 path here: the Gaussian taps
 * (getGaussianKernelBitExact) are quantised to 1/256 by error diffusion from the outer taps inwards
 * (getGaussianKernelFixedPoint_ED; the centre tap takes the remainder), each pass is (Σ src·tap + 128) >> 8, and
 * borders are BORDER_REFLECT_101. A float Gaussian lands 1-15 levels off (README of the goldens).
 */
import { newRaster, type Raster } from './raster.ts'

/** cvRound on softdouble: round half to even. */
const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** The kernel size A1111 uses for a blur radius. */
export const maskBlurKernelSize = (blur: number): number => 2 * Math.trunc(2.5 * blur + 0.5) + 1

/** OpenCV's fixed-point Gaussian taps (sum 256) for an odd size n and sigma > 0. */
export function gaussianTapsFixed(n: number, sigma: number): Int32Array {
  const half = (n - 1) / 2
  const scale2X = -0.125 / (sigma * sigma)
  const values: number[] = []
  let sum = 0
  for (let i = 0, x = 1 - n; i < half; i++, x += 2) {
    const t = Math.exp(x * x * scale2X)
    values.push(t)
    sum += t
  }
  sum = sum * 2 + 1
  const mul = 1 / sum
  const taps = new Int32Array(n)
  let err = 0
  let total = 0
  for (let i = 0; i < half; i++) {
    const adj = values[i] * mul * 256 + err
    const v = roundHalfEven(adj)
    err = adj - v
    taps[i] = v
    taps[n - 1 - i] = v
    total += v
  }
  taps[half] = 256 - 2 * total
  return taps
}

/** cv::borderInterpolate for BORDER_REFLECT_101 (…2 1 | 0 1 2 … n-1 | n-2 …), safe for any overshoot. */
export function reflect101(p: number, len: number): number {
  if (len === 1) return 0
  while (p < 0 || p >= len) p = p < 0 ? -p : 2 * (len - 1) - p
  return p
}

/** One uint8 pass along x (axis 'x') or y with the fixed-point taps. */
function pass(src: Raster, taps: Int32Array, axis: 'x' | 'y'): Raster {
  const { width: w, height: h } = src
  const out = newRaster(w, h, 1)
  const r = (taps.length - 1) / 2
  const len = axis === 'x' ? w : h
  const idx = new Int32Array(len + 2 * r)
  for (let i = 0; i < idx.length; i++) idx[i] = reflect101(i - r, len)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 128
      const at = axis === 'x' ? x : y
      for (let t = 0; t < taps.length; t++) {
        const q = idx[at + t]
        s += taps[t] * src.data[axis === 'x' ? y * w + q : q * w + x]
      }
      out.data[y * w + x] = Math.min(255, s >> 8)
    }
  }
  return out
}

/** A1111's mask blur of an 'L' mask (blur 0 returns the mask unchanged). */
export function blurMask(mask: Raster, blur: number): Raster {
  if (mask.channels !== 1) throw new RangeError(`blurMask: expected an 'L' mask, got ${mask.channels} channels`)
  if (!(blur > 0)) return mask
  const taps = gaussianTapsFixed(maskBlurKernelSize(blur), blur)
  return pass(pass(mask, taps, 'x'), taps, 'y')
}
