/**
 * Full / diff (LyCORIS `full`): the stored difference itself. Port of A1111 `network_full.py`:
 *   updown = diff (reshaped to the weight), bias += multiplier · diff_b. No rank: scale 1.
 */
import { numel, shapeString } from '../../core/host-tensor.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { moduleScale, part } from './common.ts'
import { scaleInPlace } from '../tensor-math.ts'

export const full: AdapterAlgorithm = {
  name: 'full',
  layers: ['linear', 'conv', 'norm'],
  claims: (parts) => parts.has('diff'),
  check(module, shape) {
    const d = part(module, 'diff')
    if (numel(d.shape) !== numel(shape)) return `diff ${shapeString(d.shape)} does not fit the layer ${shapeString(shape)}`
    const b = module.parts.get('diff_b')
    return b && numel(b.shape) !== shape[0] ? `diff_b ${shapeString(b.shape)} does not fit ${shape[0]} output channels` : undefined
  },
  delta(module) {
    const weight = scaleInPlace(Float32Array.from(part(module, 'diff').data), moduleScale(module, undefined))
    const b = module.parts.get('diff_b')
    return b ? { weight, bias: Float32Array.from(b.data) } : { weight }
  },
}
