/*
 * Unmerged ("bypass") low-rank branches: a layer whose weight input is named in the graph's layout computes
 *   y = base(x) + Σ_s scale_s · up_s(down_s(x))
 * instead of reading a merged weight. Linear: x @ downᵀ [r, in] · scale @ upᵀ [out, r]. Conv: down is a conv with the
 * base layer's kernel, stride and padding [r, in, kh, kw], up a 1×1 conv [out, r, 1, 1] (LoCon; a linear-shaped LoRA
 * on a 1×1 conv is the same data fed with that shape).
 * down, up and scale are graph INPUTS (names derived from the weight key, see `slotInputs`) and each slot's rank is a
 * symbolic dim, so one session serves every adapter with the same layout (which layers, how many slots each): an
 * adapter switch is new feeds, a multiplier change a new scalar; only a layout change needs a new graph.
 * The layout is registered per Graph (`useLowRank`) before the model is built; the layer forwards in layers.ts call
 * `withLowRank` on their result, which is the identity for every weight the layout does not name.
 */
import { GraphBuildError, type Graph, type Value } from '../graph/builder.ts'
import * as op from '../graph/ops.ts'

/** Weight key (a graph input name) → number of low-rank slots on that layer. */
export type LowRankLayout = ReadonlyMap<string, number>

export interface SlotInputs { readonly down: string; readonly up: string; readonly scale: string }

/** Graph input names of slot `s` on the layer whose weight is `key`. */
export const slotInputs = (key: string, s: number): SlotInputs =>
  ({ down: `${key}#lora${s}.down`, up: `${key}#lora${s}.up`, scale: `${key}#lora${s}.scale` })

/**
 * Feed shapes of one slot of rank `rank` on a layer of weight shape `weight`: linear [r, in] / [out, r];
 * conv [r, in, kh, kw] / [out, r, 1, 1]; scale [1].
 */
export function slotShapes(weight: readonly number[], rank: number): { down: number[]; up: number[]; scale: number[] } {
  return weight.length === 4
    ? { down: [rank, weight[1], weight[2], weight[3]], up: [weight[0], rank, 1, 1], scale: [1] }
    : { down: [rank, weight[1]], up: [weight[0], rank], scale: [1] }
}

/** A stable text for a layout: equal signatures ⇔ one graph serves both. */
export const layoutSignature = (layout: LowRankLayout): string =>
  [...layout].filter(([, n]) => n > 0).map(([k, n]) => `${k}:${n}`).sort().join('\n')

interface GraphState { readonly layout: LowRankLayout; readonly inputs: string[]; readonly used: Set<string> }

const states = new WeakMap<Graph, GraphState>()
let rankDims = 0

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
  const missed = boundKeys.filter((k) => (s.layout.get(k) ?? 0) > 0 && !s.used.has(k))
  if (missed.length > 0) {
    throw new GraphBuildError(`${g.name}: ${missed.length} layer(s) have low-rank slots but no forward applied them: ${missed.slice(0, 3).join(', ')}`)
  }
  return s.inputs
}

export interface ConvGeometry { readonly pads: readonly [number, number, number, number]; readonly strides: readonly [number, number] }

/** `y` plus the layer's low-rank branches (none: `y` itself). `conv` given: a conv layer with that geometry. */
export function withLowRank(g: Graph, weight: Value, x: Value, y: Value, conv?: ConvGeometry): Value {
  const s = states.get(g)
  const slots = s?.layout.get(weight.name) ?? 0
  if (!s || slots === 0) return y
  s.used.add(weight.name)
  const w = weight.shape as readonly number[]
  let out = y
  for (let i = 0; i < slots; i++) {
    const names = slotInputs(weight.name, i)
    const shapes = slotShapes(w, 0)
    const r = `lora_rank_${rankDims++}`
    const down = g.input(names.down, 'float32', shapes.down.map((d, k) => (k === 0 ? r : d)))
    const up = g.input(names.up, 'float32', shapes.up.map((d, k) => (k === 1 ? r : d)))
    const scale = g.input(names.scale, 'float32', [1])
    s.inputs.push(names.down, names.up, names.scale)
    const branch = g.scope(`lora${i}`, () => (conv
      ? op.conv(g, op.mul(g, op.conv(g, x, down, undefined, conv), scale), up, undefined)
      : op.matmul(g, op.mul(g, op.matmul(g, x, op.transpose(g, down, [1, 0])), scale), op.transpose(g, up, [1, 0]))))
    out = op.add(g, out, branch)
  }
  return out
}
