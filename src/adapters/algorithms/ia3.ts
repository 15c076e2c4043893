/**
 * (IA)³ (LyCORIS `ia3`): a learned per-channel scale. Port of A1111 `network_ia3.py`:
 *   updown = W * w.reshape(-1, 1)   (per output channel)   or   W * w   (on_input: per input channel)
 * so the merged weight is W · (1 + multiplier · w). No rank: scale 1. A file without `on_input` is taken as
 * per output channel (A1111 would fail on it).
 */
import { numel, shapeString } from '../../core/host-tensor.ts'
import type { AdapterAlgorithm, AdapterModule } from '../types.ts'
import { moduleScale, part } from './common.ts'
import { scaleInPlace } from '../tensor-math.ts'

const onInput = (module: AdapterModule): boolean => (module.parts.get('on_input')?.data[0] ?? 0) !== 0

export const ia3: AdapterAlgorithm = {
  name: 'ia3',
  layers: ['linear', 'conv'],
  claims: (parts) => parts.has('weight'),
  check(module, shape) {
    const n = numel(part(module, 'weight').shape)
    const want = onInput(module) ? shape[1] : shape[0]
    return n === want ? undefined : `weight ${shapeString(part(module, 'weight').shape)} scales ${onInput(module) ? 'input' : 'output'} channels; the layer ${shapeString(shape)} has ${want}`
  },
  delta(module, layer) {
    const w = part(module, 'weight').data
    const [out, inp] = layer.shape
    const inner = layer.data.length / (out * inp)
    const d = new Float32Array(layer.data.length)
    const input = onInput(module)
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) {
      const s = input ? w[i] : w[o]
      const base = (o * inp + i) * inner
      for (let e = 0; e < inner; e++) d[base + e] = layer.data[base + e] * s
    }
    return { weight: scaleInPlace(d, moduleScale(module, undefined)) }
  },
}
