/**
 * Bypass ("unmerged") application: which layers of an adapter stack run as low-rank branches next to the unchanged
 * base weight (nn/low-rank.ts) instead of being merged by the PatchSet, and the feeds of those branches.
 *
 * A layer is bypassed only when EVERY contribution to it is a plain low-rank product (`AdapterAlgorithm.lowRank`:
 * LoRA / LoCon) or a Tucker one (`tucker`: LoCon with `lora_mid`, conv layers) on a whole linear or conv weight; if
 * any contribution must be merged (LoHa, LoKr, IA3, DoRA, GLoRA, OFT, full/diff, norm, bias deltas, the inpaint
 * 9-channel padding, open_clip q/k/v row slices), every contribution to that layer is merged, as today, so A1111's
 * order of merging and DoRA's view of the weight stay exactly as in merge mode.
 * Feeds are the adapter's own float32 arrays (no copy): a switch between adapters with the same layout is a new map of
 * references, a multiplier change a new scalar per slot.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import { numel } from '../core/host-tensor.ts'
import { slotInputs, slotShapes, type LowRankLayout, type SlotKind } from '../nn/low-rank.ts'
import type { PatchEntry } from './patch-set.ts'
import type { AdapterPlan, PlannedModule } from './plan.ts'
import type { BaseWeights, Component } from './types.ts'

export interface BypassPlan {
  /** Bypassed weight key → its slots (one per contribution, in stack order). */
  readonly layout: LowRankLayout
  /** Slot inputs by graph input name (nn/low-rank.ts `slotInputs`). */
  readonly feeds: ReadonlyMap<string, HostTensor>
  /** The bypassed weight keys: the PatchSet must not merge them. */
  readonly keys: ReadonlySet<string>
  /** Per entry (same order): modules applied as branches, by network. */
  readonly bypassed: readonly Readonly<Record<Component, number>>[]
}

export const NO_BYPASS: BypassPlan = { layout: new Map(), feeds: new Map(), keys: new Set(), bypassed: [] }

/** A module's factors as one slot: the arrays are the adapter's own. */
interface SlotFactors { readonly kind: SlotKind; readonly down: Float32Array; readonly mid?: Float32Array; readonly up: Float32Array; readonly rank: number; readonly scale: number }

interface Slot { readonly entry: number; readonly component: Component; readonly factors: SlotFactors; readonly multiplier: number }

/** The factors of a module that can run unmerged on its layer, or undefined when it must be merged. */
function bypassFactors(m: PlannedModule): SlotFactors | undefined {
  if (m.target.rows || m.inpaint || m.dora) return undefined
  const shape = m.target.shape
  if (shape.length !== 2 && shape.length !== 4) return undefined
  // plan.ts already checked that the factors tile the layer; a mismatch here would be a bug in an algorithm.
  const f = m.algorithm.lowRank?.(m.module)
  if (f) return f.out === shape[0] && f.out * f.inner === numel(shape) ? { kind: 'low-rank', ...f } : undefined
  const t = m.algorithm.tucker?.(m.module)
  if (!t || shape.length !== 4 || t.out !== shape[0] || t.kernel[0] !== shape[2] || t.kernel[1] !== shape[3]) return undefined
  return { kind: 'tucker', ...t }
}

/** Splits a stack (entries with their plans, same order) into bypassed layers and the rest (merged). */
export function planBypass(entries: readonly PatchEntry[], plans: readonly AdapterPlan[], base: BaseWeights): BypassPlan {
  const slots = new Map<string, Slot[]>()
  const mergeOnly = new Set<string>()
  entries.forEach((e, i) => {
    for (const m of plans[i].modules) {
      const component = m.target.component
      const multiplier = component === 'unet' ? e.unet : e.te
      if (multiplier === 0) continue
      const factors = bypassFactors(m)
      if (!factors) { mergeOnly.add(m.target.key); continue }
      const list = slots.get(m.target.key) ?? []
      list.push({ entry: i, component, factors, multiplier })
      slots.set(m.target.key, list)
    }
  })
  const layout = new Map<string, SlotKind[]>()
  const feeds = new Map<string, HostTensor>()
  const bypassed = entries.map(() => ({ unet: 0, te1: 0, te2: 0 }))
  for (const [key, list] of slots) {
    if (mergeOnly.has(key)) continue
    layout.set(key, list.map((s) => s.factors.kind))
    list.forEach((s, n) => {
      const names = slotInputs(key, n)
      const shapes = slotShapes(base.shape(key), s.factors.rank, s.factors.kind)
      feeds.set(names.down, { shape: shapes.down, data: s.factors.down })
      if (shapes.mid && s.factors.mid) feeds.set(names.mid, { shape: shapes.mid, data: s.factors.mid })
      feeds.set(names.up, { shape: shapes.up, data: s.factors.up })
      feeds.set(names.scale, { shape: shapes.scale, data: Float32Array.of(s.multiplier * s.factors.scale) })
      bypassed[s.entry][s.component]++
    })
  }
  return { layout, feeds, keys: new Set(layout.keys()), bypassed }
}
