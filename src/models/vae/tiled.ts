/*
 * Tiled VAE decode and encode: the latent grid is cut into overlapping tiles, each tile decoded (or its image window
 * encoded) on its own, and the results blended with linear ramps across each overlap (the approach of ComfyUI's
 * `decode_tiled`/`encode_tiled` and A1111's Tiled VAE extension; A1111 itself never tiles the encoder).
 * Peak activation memory is that of one tile instead of the whole image: a 128×128 latent (SDXL 1024²) decoded
 * whole holds several [1, 128, 1024, 1024] fp32 tensors (512 MB each) and a [1, 16384, 16384] attention matrix (1 GB);
 * the encoder of a 1024² picture holds the same.
 * Not exact: the GroupNorms and mid-block attention see one tile, not the whole image, and the convolutions see zero
 * padding at a tile's inner edges, so values shift slightly between tiles and the overlaps blend that out (a faint
 * seam can remain on flat areas). Sharing GroupNorm statistics across tiles (the multidiffusion Tiled VAE's
 * approach) would need the graph cut at every one of the ~20 GroupNorms; blending keeps one graph per tile.
 */
import type { HostTensor } from '../../core/host-tensor.ts'

/** Tile size limit and minimum overlap between neighbouring tiles, both in latent pixels (×8 in the image). */
export interface VaeTiling {
  readonly maxTile: number
  readonly overlap: number
}

/** 'auto' above AUTO_TILE_ABOVE: ComfyUI's decode_tiled defaults, 512-pixel tiles overlapping by 64 pixels. */
export const DEFAULT_VAE_TILING: VaeTiling = { maxTile: 64, overlap: 8 }

/** 'on': at most 256-pixel tiles, for the lowest memory (a 64×64 latent becomes 9 tiles of 27×27). */
export const SMALL_VAE_TILING: VaeTiling = { maxTile: 32, overlap: 8 }

/** Latent pixels (h·w) above which 'auto' tiles: larger than 96×96 (768×768), so SD1/SD2 native sizes stay exact. */
export const AUTO_TILE_ABOVE = 96 * 96

export interface AxisTiles {
  /** Tile length (every tile on this axis has it). */
  readonly size: number
  /** Start of each tile, ascending; the last tile ends at the axis length. */
  readonly starts: readonly number[]
}

/**
 * The fewest equal tiles of at most `maxTile` that cover `n` with neighbours overlapping by at least `overlap`,
 * spread evenly (so no tile is a thin sliver).
 */
export function axisTiles(n: number, t: VaeTiling): AxisTiles {
  if (n <= t.maxTile) return { size: n, starts: [0] }
  const count = Math.ceil((n - t.overlap) / (t.maxTile - t.overlap))
  const size = Math.ceil((n + (count - 1) * t.overlap) / count)
  const starts = Array.from({ length: count }, (_, i) => Math.round((i * (n - size)) / (count - 1)))
  return { size, starts }
}

/**
 * Blend weights along one axis of tile `i` (image pixels): 1 inside, a linear ramp across each overlap with a
 * neighbour, so the two ramps of an overlap sum to 1 at every pixel.
 */
function axisWeights(tiles: AxisTiles, i: number, scale: number): Float32Array {
  const len = tiles.size * scale
  const w = new Float32Array(len).fill(1)
  const start = tiles.starts[i]
  if (i > 0) {
    const ov = (tiles.starts[i - 1] + tiles.size - start) * scale
    for (let p = 0; p < ov; p++) w[p] = (p + 0.5) / ov
  }
  if (i < tiles.starts.length - 1) {
    const ov = (start + tiles.size - tiles.starts[i + 1]) * scale
    for (let p = 0; p < ov; p++) w[len - 1 - p] = Math.min(w[len - 1 - p], (p + 0.5) / ov)
  }
  return w
}

/** [B, C, H, W] → the [B, C, h, w] window at (y, x). */
function crop(t: HostTensor, y: number, x: number, h: number, w: number): HostTensor {
  const [b, c, H, W] = t.shape
  const out = new Float32Array(b * c * h * w)
  for (let bc = 0; bc < b * c; bc++) {
    for (let r = 0; r < h; r++) {
      const from = bc * H * W + (y + r) * W + x
      out.set(t.data.subarray(from, from + w), (bc * h + r) * w)
    }
  }
  return { shape: [b, c, h, w], data: out }
}

export interface TiledDecodeInput {
  /** z [B, zChannels, h, w] (unscaled). */
  readonly z: HostTensor
  readonly tiling: VaeTiling
  /** Image pixels per latent pixel (8 for SD's VAE). */
  readonly scale: number
  /** Image channels (3). */
  readonly channels: number
  /** Decodes one tile: [B, zChannels, th, tw] → [B, channels, th·scale, tw·scale]. */
  readonly decodeTile: (z: HostTensor) => Promise<HostTensor>
}

/** Decodes tile by tile and blends: [B, zChannels, h, w] → [B, channels, h·scale, w·scale]. */
export const decodeTiled = (input: TiledDecodeInput): Promise<HostTensor> => runTiled({
  input: input.z, grid: [input.z.shape[2], input.z.shape[3]], tiling: input.tiling, inScale: 1, outScale: input.scale,
  outChannels: input.channels, runTile: input.decodeTile,
})

export interface TiledEncodeInput {
  /** image [B, imageChannels, H, W], H and W multiples of `scale`. */
  readonly image: HostTensor
  readonly tiling: VaeTiling
  /** Image pixels per latent pixel (8 for SD's VAE). */
  readonly scale: number
  /** Channels of what encodeTile returns (the posterior moments: 2 × zChannels). */
  readonly channels: number
  /** Encodes one tile: [B, imageChannels, th·scale, tw·scale] → [B, channels, th, tw]. */
  readonly encodeTile: (image: HostTensor) => Promise<HostTensor>
}

/**
 * Encodes tile by tile and blends the latents: [B, C, H, W] → [B, channels, H/scale, W/scale]. Tiles are laid out
 * on the latent grid (so every tile edge falls on a multiple of `scale` image pixels, where the encoder's stride-2
 * downsamples align with the whole image's) and blended with the decoder's ramps, in latent pixels.
 */
export const encodeTiled = (input: TiledEncodeInput): Promise<HostTensor> => runTiled({
  input: input.image, grid: [input.image.shape[2] / input.scale, input.image.shape[3] / input.scale], tiling: input.tiling,
  inScale: input.scale, outScale: 1, outChannels: input.channels, runTile: input.encodeTile,
})

interface TiledRun {
  readonly input: HostTensor
  /** The grid tiles are laid on (latent pixels): [rows, columns]. */
  readonly grid: readonly [number, number]
  readonly tiling: VaeTiling
  /** Input / output pixels per grid cell. */
  readonly inScale: number
  readonly outScale: number
  readonly outChannels: number
  readonly runTile: (t: HostTensor) => Promise<HostTensor>
}

async function runTiled(run: TiledRun): Promise<HostTensor> {
  const b = run.input.shape[0]
  const [h, w] = run.grid
  const [si, so] = [run.inScale, run.outScale]
  const rows = axisTiles(h, run.tiling)
  const cols = axisTiles(w, run.tiling)
  const acc = { out: new Float32Array(b * run.outChannels * h * so * w * so), weight: new Float32Array(h * so * w * so), shape: [b, run.outChannels, h * so, w * so] }
  for (let i = 0; i < rows.starts.length; i++) {
    for (let j = 0; j < cols.starts.length; j++) {
      const tile = await run.runTile(crop(run.input, rows.starts[i] * si, cols.starts[j] * si, rows.size * si, cols.size * si))
      addTile(acc, tile, { y: rows.starts[i] * so, x: cols.starts[j] * so, wy: axisWeights(rows, i, so), wx: axisWeights(cols, j, so) })
    }
  }
  const plane = acc.weight.length
  for (let k = 0; k < acc.out.length; k++) acc.out[k] /= acc.weight[k % plane]
  return { shape: acc.shape, data: acc.out }
}

interface Placement { readonly y: number; readonly x: number; readonly wy: Float32Array; readonly wx: Float32Array }

function addTile(acc: { out: Float32Array; weight: Float32Array; shape: number[] }, img: HostTensor, at: Placement): void {
  const [b, c, th, tw] = img.shape
  const [, , H, W] = acc.shape
  for (let r = 0; r < th; r++) {
    const row = (at.y + r) * W + at.x
    for (let q = 0; q < tw; q++) acc.weight[row + q] += at.wy[r] * at.wx[q]
    for (let bc = 0; bc < b * c; bc++) {
      const src = (bc * th + r) * tw
      const dst = bc * H * W + row
      for (let q = 0; q < tw; q++) acc.out[dst + q] += img.data[src + q] * at.wy[r] * at.wx[q]
    }
  }
}
