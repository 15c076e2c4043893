/*
 * The UNet as one ONNX graph with symbolic batch, height, width and token count, so one session serves every
 * latent size and prompt length. Weights are graph inputs named by checkpoint key (fed from a WeightSource).
 * Graph inputs: x [B, in, H, W], t [B] (float timesteps), context [B, T, ctx], y [B, adm] (SDXL only).
 * Output `out` [B, out, H, W]: eps (SD1, SDXL) or v (SD2-v); the network is the same.
 */
import { Graph, type Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2dForward, groupNormPreciseForward, linearForward, silu, type Conv2d } from '../../nn/layers.ts'
import { lowRankInputs, useLowRank, type LowRankLayout } from '../../nn/low-rank.ts'
import { bind, paramKeys, type Bound, type ShapeSource } from '../../nn/module.ts'
import { ShapeMismatchError } from '../../core/errors.ts'
import { FAMILY_LABELS, headsFor, UNET_PREFIX, type UnetConfig } from '../config/unet-config.ts'
import { downsampleForward, resBlockForward, upsampleForward, type Downsample, type ResBlock, type Upsample } from './res-block.ts'
import { spatialTransformerForward, type AttentionKind, type SpatialTransformer, type TransformerOptions } from './spatial-transformer.ts'
import { unetPlan, unetTree, type BlockPlan, type ResPlan, type UnetTree } from './unet-tree.ts'
import { timestepEmbedding } from './timestep.ts'

export interface UnetGraphOptions {
  /**
   * Attention kernel; 'mha' (fused MultiHeadAttention) by default: a full SD1.5 step at 512² took ~8% less CPU
   * time than with 'matmul' (MatMul + Softmax) here, and peak RSS fell from 8.0 to 4.0 GB (no [B, H, HW, HW] scores).
   */
  readonly attention?: AttentionKind
  readonly prefix?: string
  /** Unmerged low-rank adapter branches (nn/low-rank.ts); their slot inputs join `weightKeys`. */
  readonly lowRank?: LowRankLayout
  /** Run Conv/MatMul on int8 weights with integer kernels (graph/ops.ts useIntegerKernels; `--weights w8a8`). */
  readonly integerKernels?: boolean
}

/** Shapes of the checkpoint; `keys` (when present) lets the build report tensors the network does not use. */
export type UnetShapeSource = ShapeSource & { keys?(): Iterable<string> }

export interface UnetGraph {
  readonly graph: Graph
  /** Graph inputs that are weights, by checkpoint key (pass to GraphSession.create). */
  readonly weightKeys: readonly string[]
  /** Keys under the UNet prefix that the network does not use (a report; empty for a clean checkpoint). */
  readonly unusedKeys: readonly string[]
}

export const UNET_INPUTS = { x: 'x', t: 't', context: 'context', y: 'y' } as const
export const UNET_OUTPUT = 'out'

export function buildUnetGraph(config: UnetConfig, shapes: UnetShapeSource, opts: UnetGraphOptions = {}): UnetGraph {
  const prefix = opts.prefix ?? UNET_PREFIX
  const g = new Graph(`unet-${config.family}`)
  useLowRank(g, opts.lowRank)
  if (opts.integerKernels) op.useIntegerKernels(g)
  const plan = unetPlan(config)
  const tree = unetTree(config, plan)
  checkInputConv(config, shapes, prefix)
  const p = bind(g, tree, shapes, prefix, `${FAMILY_LABELS[config.family]} UNet`)
  const x = g.input(UNET_INPUTS.x, 'float32', ['batch', config.inChannels, 'height', 'width'])
  const t = g.input(UNET_INPUTS.t, 'float32', ['batch'])
  const context = g.input(UNET_INPUTS.context, 'float32', ['batch', 'tokens', config.contextDim])
  const y = config.admInChannels > 0 ? g.input(UNET_INPUTS.y, 'float32', ['batch', config.admInChannels]) : undefined
  const embSilu = silu(g, g.scope('time_embed', () => embedding(g, p, config, { t, y })))
  const blockOpts = { config, context, embSilu, attention: opts.attention ?? 'mha' }
  const skips: Value[] = []
  let h = x
  plan.input.forEach((b, i) => {
    h = g.scope(`input_blocks.${i}`, () => inputBlock(g, b, p.input_blocks[i], h, blockOpts))
    skips.push(h)
  })
  h = g.scope('middle_block', () => middleBlock(g, p.middle_block, h, blockOpts))
  plan.output.forEach((b, i) => {
    h = g.scope(`output_blocks.${i}`, () => outputBlock(g, b, p.output_blocks[i], { h, skip: skips.pop()! }, blockOpts))
  })
  const out = g.scope('out', () => conv2dForward(g, p.out[2], silu(g, groupNormPreciseForward(g, p.out[0], h)), { pad: 1 }))
  g.output(UNET_OUTPUT, out)
  const paramNames = paramKeys(tree, prefix).map((k) => k.key)
  const used = new Set(paramNames)
  const unusedKeys = shapes.keys ? [...shapes.keys()].filter((k) => k.startsWith(prefix) && !used.has(k)) : []
  return { graph: g, weightKeys: [...paramNames, ...lowRankInputs(g, paramNames)], unusedKeys }
}

/** A 9-channel (inpainting) or 4-channel file given to the other config fails here with a hint, before binding. */
function checkInputConv(c: UnetConfig, shapes: ShapeSource, prefix: string): void {
  const key = `${prefix}input_blocks.0.0.weight`
  if (!shapes.has(key)) return   // bind reports it with the other missing keys
  const found = shapes.shape(key)
  const expected = [c.modelChannels, c.inChannels, 3, 3]
  if (found.length === 4 && found[1] !== c.inChannels) {
    const hint = found[1] === 9 ? '9 input channels usually means an inpainting checkpoint.'
      : `the config expects ${c.inChannels} input channels (measured from "${c.sources.inChannels ?? 'the config'}").`
    throw new ShapeMismatchError(shapes.file, key, expected, found, hint)
  }
}

interface BlockContext {
  readonly config: UnetConfig
  readonly context: Value
  readonly embSilu: Value
  readonly attention: AttentionKind
}

type BoundUnet = Bound<UnetTree>

/** emb = time_embed(sinusoid(t)) (+ label_emb(y) for SDXL): [B, timeEmbedDim]. */
function embedding(g: Graph, p: BoundUnet, c: UnetConfig, v: { t: Value; y: Value | undefined }): Value {
  const te = p.time_embed
  let emb = linearForward(g, te[2], silu(g, linearForward(g, te[0], timestepEmbedding(g, v.t, c.modelChannels))))
  if (p.label_emb && v.y) {
    const le = p.label_emb[0]
    emb = op.add(g, emb, g.scope('label_emb', () => linearForward(g, le[2], silu(g, linearForward(g, le[0], v.y!)))))
  }
  return emb
}

const transformerOpts = (b: BlockContext, ch: number): TransformerOptions =>
  ({ heads: headsFor(b.config.heads, ch), linearProj: b.config.linearProj, attention: b.attention })

/** ResBlock, then (when present) SpatialTransformer and Upsample: the body shared by input and output blocks. */
function resAttnUp(g: Graph, parts: readonly unknown[], h: Value, b: BlockContext): Value {
  h = g.scope('0', () => resBlockForward(g, parts[0] as Bound<ResBlock>, h, b.embSilu))
  const ch = h.shape[1] as number
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as Record<string, unknown>
    h = g.scope(String(i), () => ('conv' in part
      ? upsampleForward(g, part as Bound<Upsample>, h)
      : spatialTransformerForward(g, part as Bound<SpatialTransformer>, h, b.context, transformerOpts(b, ch))))
  }
  return h
}

function inputBlock(g: Graph, plan: BlockPlan, parts: readonly unknown[], h: Value, b: BlockContext): Value {
  if (plan.kind === 'conv_in') return conv2dForward(g, parts[0] as Bound<Conv2d>, h, { pad: 1 })
  if (plan.kind === 'down') return g.scope('0', () => downsampleForward(g, parts[0] as Bound<Downsample>, h))
  return resAttnUp(g, parts, h, b)
}

function middleBlock(g: Graph, parts: readonly unknown[], h: Value, b: BlockContext): Value {
  h = g.scope('0', () => resBlockForward(g, parts[0] as Bound<ResBlock>, h, b.embSilu))
  if (parts.length === 3) {
    const st = parts[1] as Bound<SpatialTransformer>
    h = g.scope('1', () => spatialTransformerForward(g, st, h, b.context, transformerOpts(b, h.shape[1] as number)))
  }
  return g.scope(String(parts.length - 1), () => resBlockForward(g, parts[parts.length - 1] as Bound<ResBlock>, h, b.embSilu))
}

/** A1111's `th.cat` hijack: h is resized (nearest) to the skip's size before the channel concat. */
function outputBlock(g: Graph, plan: ResPlan, parts: readonly unknown[], v: { h: Value; skip: Value }, b: BlockContext): Value {
  const h = plan.resizeToSkip ? op.resizeNearestLike(g, v.h, v.skip) : v.h
  return resAttnUp(g, parts, op.concat(g, [h, v.skip], 1), b)
}
