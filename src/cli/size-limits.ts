/*
 * Sizes refused before anything loads (issue #14: `--width 100000 --height 100000` used to run for minutes and then
 * die inside onnxruntime). Two checks:
 *  - `--max-pixels` (default 2048², as `sdloom serve`): a policy a user may raise;
 *  - the UNet's self-attention scores, which grow with the square of the pixel count and are the largest buffer of
 *    a step: [2·batch (CFG: cond + uncond), heads, N, N] float32 at the first level with attention, N tokens.
 *    The smallest of the supported families is taken (the model is not read yet), so a size refused here cannot
 *    fit with any checkpoint: SDXL has no attention at 1/8 scale (N = pixels/256, 10 heads), SD1 8 heads and SD2
 *    5 heads at N = pixels/64.
 */
import { totalmem } from 'node:os'
import { InputError } from '../core/errors.ts'

export const DEFAULT_MAX_PIXELS = 2048 * 2048

/** Tokens at the first attention level per family: pixels / (downscale²), and that level's head count. */
const FIRST_ATTENTION = [
  { family: 'SD1.x', tokensPerPixel: 1 / 64, heads: 8 },
  { family: 'SD2.x', tokensPerPixel: 1 / 64, heads: 5 },
  { family: 'SDXL', tokensPerPixel: 1 / 256, heads: 10 },
] as const

/** Bytes of the attention scores of one step, the least over the supported families. */
export function attentionBytesLowerBound(width: number, height: number, batchSize: number): number {
  return Math.min(...FIRST_ATTENTION.map((f) => {
    const n = width * height * f.tokensPerPixel
    return 2 * batchSize * f.heads * n * n * 4
  }))
}

export interface SizeRequest {
  readonly width?: number
  readonly height?: number
  readonly batchSize?: number
  /** Hires fix: its second pass is the larger one. */
  readonly hires?: { readonly scale?: number; readonly resize?: { readonly width: number; readonly height: number } }
}

/** The largest pass's size, when the request names a size (else undefined: the model's native size always fits). */
function largestPass(req: SizeRequest): { width: number; height: number } | undefined {
  if (req.width === undefined && req.height === undefined) return undefined
  const width = req.width ?? req.height ?? 0
  const height = req.height ?? req.width ?? 0
  const r = req.hires?.resize
  if (r && (r.width > 0 || r.height > 0)) {
    return { width: r.width || Math.round((r.height * width) / height), height: r.height || Math.round((r.width * height) / width) }
  }
  const scale = req.hires ? req.hires.scale ?? 2 : 1
  return { width: Math.round(width * scale), height: Math.round(height * scale) }
}

const gb = (b: number): string => `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GB`

/** Throws InputError for a size (the largest pass) over `maxPixels` or one whose attention alone outgrows this machine's memory. */
export function checkSize(req: SizeRequest, maxPixels = DEFAULT_MAX_PIXELS, memoryBytes = totalmem()): void {
  const pass = largestPass(req)
  if (!pass) return
  const { width, height } = pass
  const pixels = width * height
  const size = `${width}×${height}`
  if (pixels > maxPixels) {
    throw new InputError(`${size} is ${pixels} pixels, over --max-pixels ${maxPixels}; `
      + 'generate smaller and upscale (--hires-scale), or raise --max-pixels if this machine has the memory')
  }
  const need = attentionBytesLowerBound(width, height, req.batchSize ?? 1)
  if (need > memoryBytes) {
    throw new InputError(`${size}${(req.batchSize ?? 1) > 1 ? ` × ${req.batchSize}` : ''} cannot fit: the UNet's attention alone needs at least `
      + `${gb(need)} per step, this machine has ${gb(memoryBytes)}; generate smaller and upscale (--hires-scale)`)
  }
}

/** `--max-pixels N`: a positive whole number. */
export function maxPixelsOf(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_PIXELS
  if (value < 1) throw new InputError(`--max-pixels must be a positive whole number, got ${value}`)
  return value
}
