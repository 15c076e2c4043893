/**
 * Norm (LyCORIS `norm`): differences for a GroupNorm / LayerNorm's weight and bias. Port of A1111 `network_norm.py`:
 *   updown = w_norm, bias += multiplier · b_norm. No rank: scale 1.
 */
import { numel, shapeString } from '../../core/host-tensor.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { hasAll, moduleScale, part } from './common.ts'
import { scaleInPlace } from '../tensor-math.ts'

export const norm: AdapterAlgorithm = {
  name: 'norm',
  layers: ['norm'],
  claims: (parts) => hasAll(parts, ['w_norm', 'b_norm']),
  check(module, shape) {
    const w = part(module, 'w_norm')
    const b = part(module, 'b_norm')
    if (numel(w.shape) !== numel(shape) || numel(b.shape) !== numel(shape)) {
      return `w_norm ${shapeString(w.shape)} / b_norm ${shapeString(b.shape)} do not fit the layer ${shapeString(shape)}`
    }
    return undefined
  },
  delta(module) {
    return {
      weight: scaleInPlace(Float32Array.from(part(module, 'w_norm').data), moduleScale(module, undefined)),
      bias: Float32Array.from(part(module, 'b_norm').data),
    }
  },
}
