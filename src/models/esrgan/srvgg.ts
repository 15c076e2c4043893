/*
 * SRVGGNetCompact, Real-ESRGAN's compact upscaler (realesr-general-x4v3, realesr-general-wdn-x4v3: 32 body convs;
 * realesr-animevideov3: 16), from realesrgan/archs/srvgg_arch.py @ 696e1a6:
 *   body.0               3×3 conv, in → F                 body.1      PReLU(F)
 *   body.2k, body.2k+1   3×3 conv F → F, PReLU(F)         for k = 1 … num_conv
 *   body.2·num_conv+2    3×3 conv F → out·s²
 *   out = pixel_shuffle(body(x), s) + nearest_upsample(x, s)
 * Keys as the published .pth files store them (`params` nested, as RealESRGANer loads them; `params_ema` preferred
 * when present). Only the PReLU activation is supported: it is what every released model uses, and ReLU / LeakyReLU
 * variants have no activation weights, so the file could not say which of the two it was.
 */
import { UnknownModelError } from '../../core/errors.ts'
import { Graph, type Value } from '../../graph/builder.ts'
import { unknownDim, isKnown } from '../../graph/shape.ts'
import * as op from '../../graph/ops.ts'
import { conv2d, conv2dForward, type Conv2d } from '../../nn/layers.ts'
import { keyedBinder, param, type ShapeSource } from '../../nn/module.ts'
import type { BuiltEsrganGraph } from './graph.ts'

export interface SrvggConfig {
  readonly arch: 'srvgg'
  /** Image channels in and out (3). */
  readonly channels: number
  /** F (64 in the released models). */
  readonly features: number
  /** F → F convs between the first and the last (32 general-x4v3, 16 animevideov3). */
  readonly convs: number
  readonly scale: number
  /** No pixel-unshuffled input (EsrganNet pads to a multiple of it). */
  readonly unshuffle: 1
}

const NESTS = ['params_ema.', 'params.']
const BODY = /^body\.(\d+)\.(weight|bias)$/

/** The nesting prefix of a BasicSR-style file, or '' for a bare state dict. */
const nestOf = (keys: readonly string[]): string => NESTS.find((p) => keys.some((k) => k.startsWith(p))) ?? ''

/** True for an SRVGG key layout: body.N convs (4-D weights) with per-channel PReLU weights between them, nothing else. */
export function isSrvgg(keys: readonly string[]): boolean {
  const nest = nestOf(keys)
  const own = keys.filter((k) => k.startsWith(nest)).map((k) => k.slice(nest.length))
  return own.length > 0 && own.every((k) => BODY.test(k)) && own.includes('body.0.weight') && own.includes('body.1.weight')
}

/** A file key → its name without the nesting, or undefined for the other of params/params_ema. */
export function srvggRename(keys: readonly string[]): (key: string) => string | undefined {
  const nest = nestOf(keys)
  return (k) => (k.startsWith(nest) ? k.slice(nest.length) : undefined)
}

/** Measures an SRVGGNetCompact from its (renamed) shapes. */
export function measureSrvgg(src: ShapeSource): SrvggConfig {
  let last = 0
  while (src.has(`body.${last + 2}.weight`)) last += 2
  const convs = last / 2 - 1
  if (convs < 0 || src.shape('body.1.weight').length !== 1) {
    throw new UnknownModelError(src.file, 'is not an SRVGGNetCompact upscaler: expected 3×3 convs at body.0, body.2, … with PReLU weights at body.1, body.3, …')
  }
  const [features, channels] = src.shape('body.0.weight')
  const outs = src.shape(`body.${last}.weight`)[0]
  const scale = Math.round(Math.sqrt(outs / channels))
  if (scale * scale * channels !== outs) {
    throw new UnknownModelError(src.file, `the last conv body.${last} gives ${outs} channels, not ${channels} × scale² for a whole scale`)
  }
  return { arch: 'srvgg', channels, features, convs, scale, unshuffle: 1 }
}

/** The convs of body, in order: first (in → F), convs × (F → F), last (F → out·s²); a PReLU(F) follows all but the last. */
function bodyConvs(cfg: SrvggConfig): Conv2d[] {
  const f = cfg.features
  return [conv2d(cfg.channels, f, 3), ...Array.from({ length: cfg.convs }, () => conv2d(f, f, 3)), conv2d(f, cfg.channels * cfg.scale ** 2, 3)]
}

/** nn.PReLU(F): x for x >= 0, a_c · x below, one slope per channel. */
const prelu = (g: Graph, x: Value, slope: Value): Value =>
  g.node({ op: 'PRelu', inputs: [x, op.reshape(g, slope, [-1, 1, 1])], outputs: [{ dtype: x.dtype, shape: x.shape }] })[0]

/** torch pixel_shuffle(x, s) = ONNX DepthToSpace CRD: channel c·s² + i·s + j → pixel (s·y + i, s·x + j) of channel c. */
function pixelShuffle(g: Graph, x: Value, s: number): Value {
  const [n, c, h, w] = x.shape
  const times = (d: typeof h): typeof h => (isKnown(d) ? d * s : unknownDim('d2s'))
  const shape = [n, isKnown(c) ? c / (s * s) : unknownDim('d2s'), times(h), times(w)]
  return g.node({ op: 'DepthToSpace', inputs: [x], attrs: { blocksize: s, mode: 'CRD' }, outputs: [{ dtype: x.dtype, shape }] })[0]
}

/**
 * Each input channel repeated s² times ([C·s², C, 1, 1] one-hot 1×1 conv): pixel-shuffled it is the nearest ×s
 * upsample, so it is added before the shuffle (a permutation, so the sums are the same floats as torch's after).
 */
function repeatChannels(g: Graph, x: Value, channels: number, s: number): Value {
  const w = new Array<number>(channels * s * s * channels).fill(0)
  for (let c = 0; c < channels; c++) for (let k = 0; k < s * s; k++) w[(c * s * s + k) * channels + c] = 1
  return op.conv(g, x, op.constF32(g, w, [channels * s * s, channels, 1, 1]), undefined)
}

/** image [1, C, H, W] in [0, 1] → [1, C, H·scale, W·scale], not clamped. */
export function buildSrvggGraph(src: ShapeSource, cfg: SrvggConfig): BuiltEsrganGraph {
  const g = new Graph('srvgg')
  const b = keyedBinder(g, src, 'SRVGGNetCompact')
  const image = g.input('image', 'float32', [1, cfg.channels, 'h', 'w'])
  const convs = bodyConvs(cfg)
  let x = image
  convs.forEach((spec, k) => {
    const conv = b.bind(spec, `body.${2 * k}`)
    x = g.scope(`body.${2 * k}`, () => conv2dForward(g, conv, x, { pad: 1 }))
    if (k === convs.length - 1) return
    const act = b.bind({ weight: param(cfg.features) }, `body.${2 * k + 1}`)
    x = g.scope(`body.${2 * k + 1}`, () => prelu(g, x, act.weight))
  })
  g.output('upscaled', pixelShuffle(g, op.add(g, x, repeatChannels(g, image, cfg.channels, cfg.scale)), cfg.scale))
  return { graph: g, weightKeys: b.keys }
}
