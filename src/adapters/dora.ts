/**
 * DoRA (`dora_scale`), applied after any algorithm's scaled updown, with A1111 ≥ 1.9 semantics
 * (`network.py` `apply_weight_decompose`, called from `finalize_updown` before the multiplier):
 *   W' = W + updown;  merged = W' · (dora_scale / ‖W'‖);  delta = merged − W  (then × multiplier).
 * Two layouts exist: older LyCORIS / kohya files store the magnitude per INPUT channel, [1, in(, 1, 1)], and the
 * norm runs over every axis but dim 1 (A1111's only code path); newer LyCORIS files (`wd_on_output`) store it per
 * OUTPUT channel, [out, 1(, 1, 1)], with the norm over every axis but dim 0. The shape tells them apart; a flat
 * vector on a square layer cannot be told apart and is taken per input (A1111's behaviour) and reported.
 */
import type { HostTensor } from '../core/host-tensor.ts'
import { shapeString } from '../core/host-tensor.ts'
import type { LayerWeight } from './types.ts'

export type DoraAxis = 'input' | 'output'

export interface DoraOrientation {
  readonly axis: DoraAxis
  /** True when the shape did not decide it (flat vector on a square layer). */
  readonly ambiguous: boolean
}

/** Which axis a `dora_scale` of this shape belongs to, or a reason why it fits neither. */
export function doraOrientation(scale: readonly number[], layer: readonly number[]): DoraOrientation | string {
  const [out, inp] = layer
  const ones = (from: number) => scale.slice(from).every((d) => d === 1)
  if (scale.length >= 2) {
    if (scale[0] === 1 && scale[1] === inp && ones(2)) return { axis: 'input', ambiguous: out === 1 && inp === 1 }
    if (scale[0] === out && ones(1)) return { axis: 'output', ambiguous: false }
  } else if (scale.length === 1) {
    if (scale[0] === inp) return { axis: 'input', ambiguous: scale[0] === out }
    if (scale[0] === out) return { axis: 'output', ambiguous: false }
  }
  return `dora_scale ${shapeString(scale)} fits neither [1, ${inp}] (per input) nor [${out}, 1] (per output) of the layer ${shapeString(layer)}`
}

/** Replaces a scaled updown by the DoRA delta (in place on `updown`). */
export function applyDora(updown: Float32Array, layer: LayerWeight, scale: HostTensor, axis: DoraAxis): Float32Array {
  const [out, inp] = layer.shape
  const inner = layer.data.length / (out * inp)
  const merged = new Float32Array(updown.length)
  for (let i = 0; i < merged.length; i++) merged[i] = layer.data[i] + updown[i]
  const norms = new Float64Array(axis === 'input' ? inp : out)
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
    const base = (o * inp + i) * inner
    let s = 0
    for (let e = 0; e < inner; e++) s += merged[base + e] * merged[base + e]
    norms[axis === 'input' ? i : o] += s
  }
  const factor = new Float32Array(norms.length)
  for (let c = 0; c < norms.length; c++) factor[c] = scale.data[c] / Math.fround(Math.sqrt(norms[c]))
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
    const f = factor[axis === 'input' ? i : o]
    const base = (o * inp + i) * inner
    for (let e = 0; e < inner; e++) updown[base + e] = Math.fround(merged[base + e] * f) - layer.data[base + e]
  }
  return updown
}
