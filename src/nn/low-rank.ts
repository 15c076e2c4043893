/*
 * Unmerged ("bypass") low-rank branches: a layer whose weight input is named in the graph's layout computes
 *   y = base(x) + Σ_s scale_s · up_s(down_s(x))
 * instead of reading a merged weight. Linear: x @ downᵀ [r, in] · scale @ upᵀ [out, r]. Conv: down is a conv with the
 * base layer's kernel, stride and padding [r, in, kh, kw], up a 1×1 conv [out, r, 1, 1] (LoCon; a linear-shaped LoRA
 * on a 1×1 conv is the same data fed with that shape). A 'tucker' slot (LoCon with a `lora_mid` core, conv only) is
 * down 1×1 [r, in, 1, 1] → mid with the base kernel, stride and padding [r', r, kh, kw] → up 1×1 [out, r', 1, 1].
 * down, up and scale are graph INPUTS (names derived from the weight key, see `slotInputs`) and each slot's rank is a
 * symbolic dim, so one session serves every adapter with the same layout (which layers, how many slots each): an
 * adapter switch is new feeds, a multiplier change a new scalar; only a layout change needs a new graph.
 * The layout is registered per Graph (`useLowRank`) before the model is built; the layer forwards in layers.ts call
 * `withLowRank` on their result, which is the identity for every weight the layout does not name.
 */
import { GraphBuildError, type Graph, type Value } from '../graph/builder.ts'
import * as op from '../graph/ops.ts'

/** A plain low-rank product, or a Tucker (CP) one with a spatial core in the middle (conv layers only). */
export type SlotKind = 'low-rank' | 'tucker'

/** Weight key (a graph input name) → the kinds of the low-rank slots on that layer, in order. */
export type LowRankLayout = ReadonlyMap<string, readonly SlotKind[]>

export interface SlotInputs { readonly down: string; readonly mid: string; readonly up: string; readonly scale: string }

/** Graph input names of slot `s` on the layer whose weight is `key` (`mid`: tucker slots only). */
export const slotInputs = (key: string, s: number): SlotInputs =>
  ({ down: `${key}#lora${s}.down`, mid: `${key}#lora${s}.mid`, up: `${key}#lora${s}.up`, scale: `${key}#lora${s}.scale` })

export interface SlotShapes { readonly down: number[]; readonly mid?: number[]; readonly up: number[]; readonly scale: number[] }

/**
 * Feed shapes of one slot of rank `rank` on a layer of weight shape `weight`: linear [r, in] / [out, r];
 * conv [r, in, kh, kw] / [out, r, 1, 1]; tucker [r, in, 1, 1] / mid [r, r, kh, kw] / [out, r, 1, 1]; scale [1].
 */
export function slotShapes(weight: readonly number[], rank: number, kind: SlotKind = 'low-rank'): SlotShapes {
  const [out, inp] = weight
  if (kind === 'tucker') return { down: [rank, inp, 1, 1], mid: [rank, rank, weight[2], weight[3]], up: [out, rank, 1, 1], scale: [1] }
  return weight.length === 4
    ? { down: [rank, inp, weight[2], weight[3]], up: [out, rank, 1, 1], scale: [1] }
    : { down: [rank, inp], up: [out, rank], scale: [1] }
}

/** A stable text for a layout: equal signatures ⇔ one graph serves both. */
export const layoutSignature = (layout: LowRankLayout): string =>
  [...layout].filter(([, kinds]) => kinds.length > 0).map(([k, kinds]) => `${k}:${kinds.join(',')}`).sort().join('\n')

interface GraphState { readonly layout: LowRankLayout; readonly inputs: string[]; readonly used: Set<string> }

const states = new WeakMap<Graph, GraphState>()

/** Registers the layout for the layers `g` will build (call once, before building; an empty or absent one is a no-op). */
export function useLowRank(g: Graph, layout: LowRankLayout | undefined): void {
  if (!layout || layout.size === 0) return
  if (states.has(g)) throw new GraphBuildError(`${g.name}: a low-rank layout is already registered for this graph`)
  states.set(g, { layout, inputs: [], used: new Set() })
}

/**
 * The slot inputs the build created (the session feeds them as weights). Throws when a layer in `boundKeys` is named by
 * the layout but its forward never consulted it (a forward that bypasses layers.ts would silently drop the branch).
 */
export function lowRankInputs(g: Graph, boundKeys: readonly string[]): string[] {
  const s = states.get(g)
  if (!s) return []
  const missed = boundKeys.filter((k) => (s.layout.get(k)?.length ?? 0) > 0 && !s.used.has(k))
  if (missed.length > 0) {
    throw new GraphBuildError(`${g.name}: ${missed.length} layer(s) have low-rank slots but no forward applied them: ${missed.slice(0, 3).join(', ')}`)
  }
  return s.inputs
}

export interface ConvGeometry { readonly pads: readonly [number, number, number, number]; readonly strides: readonly [number, number] }

/** `y` plus the layer's low-rank branches (none: `y` itself). `conv` given: a conv layer with that geometry. */
export function withLowRank(g: Graph, weight: Value, x: Value, y: Value, conv?: ConvGeometry): Value {
  const s = states.get(g)
  const key = op.weightKey(weight)
  const kinds = s?.layout.get(key) ?? []
  if (!s || kinds.length === 0) return y
  s.used.add(key)
  let out = y
  kinds.forEach((kind, i) => {
    if (kind === 'tucker' && !conv) g.fail('LowRank', `${key}: a Tucker (lora_mid) slot needs a conv layer`)
    out = op.add(g, out, g.scope(`lora${i}`, () => branch(g, { s, weight, kind, slot: i }, x, conv)))
  })
  return out
}

let rankDims = 0
/** A fresh symbolic rank dim: each slot's rank is its own, so one graph serves every rank. */
const rankDim = (): string => `lora_rank_${rankDims++}`

/** Declares `shape` as a graph input with the dims at `symbolic` positions replaced by the given names. */
function slotInput(g: Graph, s: GraphState, name: string, shape: readonly number[], symbolic: Readonly<Record<number, string>>): Value {
  s.inputs.push(name)
  return g.input(name, 'float32', shape.map((d, k) => symbolic[k] ?? d))
}

interface SlotRef { readonly s: GraphState; readonly weight: Value; readonly kind: SlotKind; readonly slot: number }

/** scale · up(down(x)) (tucker: scale · up(mid(down(x)))); the scale multiplies the narrow rank-r activation. */
function branch(g: Graph, ref: SlotRef, x: Value, conv: ConvGeometry | undefined): Value {
  const names = slotInputs(op.weightKey(ref.weight), ref.slot)
  const shapes = slotShapes(ref.weight.shape as readonly number[], 0, ref.kind)
  const [r, r2] = [rankDim(), ref.kind === 'tucker' ? rankDim() : undefined]
  const down = slotInput(g, ref.s, names.down, shapes.down, { 0: r })
  const mid = shapes.mid && slotInput(g, ref.s, names.mid, shapes.mid, { 0: r2!, 1: r })
  const up = slotInput(g, ref.s, names.up, shapes.up, { 1: r2 ?? r })
  const scale = slotInput(g, ref.s, names.scale, shapes.scale, {})
  if (!conv) return op.matmul(g, op.mul(g, op.matmul(g, x, op.transpose(g, down, [1, 0])), scale), op.transpose(g, up, [1, 0]))
  let h = mid ? op.conv(g, op.conv(g, x, down, undefined), mid, undefined, conv) : op.conv(g, x, down, undefined, conv)
  h = op.mul(g, h, scale)
  return op.conv(g, h, up, undefined)
}
