/*
 * PIL's `ImageFilter.GaussianBlur(radius)` (Pillow 9.4 libImaging/BoxBlur.c): three passes of an extended box
 * blur per axis (Gwosdek et al. 2011) in 24-bit fixed point, 8-bit between passes, edges clamped. A1111's
 * `masking.fill` runs it on the premultiplied picture; float32 arithmetic below is where Pillow uses `float`.
 */
import { newRaster, type Raster } from './raster.ts'

const f32 = Math.fround

/** ImagingGaussianBlur: the extended box radius for `passes` boxes that approximate the Gaussian's variance. */
export function boxRadius(radius: number, passes: number): number {
  const sigma2 = f32(f32(f32(radius) * f32(radius)) / passes)
  const L = f32(Math.sqrt(12 * sigma2 + 1))
  const l = f32(Math.floor((L - 1) / 2))
  let a = f32(f32(2 * l + 1) * f32(f32(l * f32(l + 1)) - f32(3 * sigma2)))
  a = f32(a / f32(6 * f32(sigma2 - f32(f32(l + 1) * f32(l + 1)))))
  return f32(l + a)
}

/** ImagingLineBoxBlur32 on one line of `c`-byte pixels: `line` in, `out` out (may not alias). */
function lineBoxBlur(out: Uint8Array, line: Uint8Array, c: number, p: { radius: number; ww: number; fw: number }): void {
  const n = line.length / c
  const lastx = n - 1
  const { radius, ww, fw } = p
  const edgeA = Math.min(radius + 1, n)
  const edgeB = Math.max(n - radius - 1, 0)
  const at = (x: number, k: number) => line[x * c + k]
  for (let k = 0; k < c; k++) {
    let acc = at(0, k) * (radius + 1)
    for (let x = 0; x < edgeA - 1; x++) acc += at(x, k)
    acc += at(lastx, k) * (radius - edgeA + 1)
    const save = (x: number, sub: number, add: number, far: number) => {
      acc += at(add, k) - at(sub, k)
      const bulk = acc * ww + (at(sub, k) + at(far, k)) * fw
      out[x * c + k] = Math.floor((bulk + (1 << 23)) / (1 << 24))
    }
    if (edgeA <= edgeB) {
      for (let x = 0; x < edgeA; x++) save(x, 0, x + radius, x + radius + 1)
      for (let x = edgeA; x < edgeB; x++) save(x, x - radius - 1, x + radius, x + radius + 1)
      for (let x = edgeB; x <= lastx; x++) save(x, x - radius - 1, lastx, lastx)
    } else {
      for (let x = 0; x < edgeB; x++) save(x, 0, x + radius, x + radius + 1)
      for (let x = edgeB; x < edgeA; x++) save(x, 0, lastx, lastx)
      for (let x = edgeA; x <= lastx; x++) save(x, x - radius - 1, lastx, lastx)
    }
  }
}

/** ImagingHorizontalBoxBlur, in place over every row. */
function horizontalBoxBlur(img: Raster, floatRadius: number): void {
  const radius = Math.trunc(floatRadius)
  const ww = Math.trunc(f32((1 << 24) / f32(f32(floatRadius * 2) + 1)))
  const fw = Math.trunc(((1 << 24) - (radius * 2 + 1) * ww) / 2)
  const row = img.width * img.channels
  const tmp = new Uint8Array(row)
  for (let y = 0; y < img.height; y++) {
    const line = img.data.subarray(y * row, (y + 1) * row)
    lineBoxBlur(tmp, line, img.channels, { radius, ww, fw })
    line.set(tmp)
  }
}

function transpose(img: Raster): Raster {
  const out = newRaster(img.height, img.width, img.channels)
  const c = img.channels
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) out.data.set(img.data.subarray((y * img.width + x) * c, (y * img.width + x + 1) * c), (x * img.height + y) * c)
  }
  return out
}

/** `img.filter(ImageFilter.GaussianBlur(radius))`, every channel (premultiply RGBA first, as PIL's 'RGBa'). */
export function pilGaussianBlur(img: Raster, radius: number): Raster {
  const r = boxRadius(radius, 3)
  const out: Raster = { ...img, data: img.data.slice() }
  if (r === 0) return out
  for (let i = 0; i < 3; i++) horizontalBoxBlur(out, r)
  const t = transpose(out)
  for (let i = 0; i < 3; i++) horizontalBoxBlur(t, r)
  return transpose(t)
}
