/**
 * GLoRA (LyCORIS `glora`), Linear layers. Port of A1111 `network_glora.py`:
 *   updown = b2 @ b1 + (W @ a2) @ a1        b2 [out, r], b1 [r, in], a2 [in, r], a1 [r, in]
 * A1111 gives GLoRA no rank, so alpha is not applied (scale 1).
 */
import { shapeString } from '../../core/host-tensor.ts'
import { cols, matmul, matmulFlat, rows, scaleInPlace } from '../tensor-math.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { hasAll, moduleScale, part } from './common.ts'

export const glora: AdapterAlgorithm = {
  name: 'glora',
  layers: ['linear'],
  claims: (parts) => hasAll(parts, ['a1.weight', 'a2.weight', 'alpha', 'b1.weight', 'b2.weight']),
  check(module, shape) {
    const [a1, a2, b1, b2] = ['a1.weight', 'a2.weight', 'b1.weight', 'b2.weight'].map((n) => part(module, n))
    const ok = rows(b2) === shape[0] && cols(b2) === rows(b1) && cols(b1) === shape[1]
      && rows(a2) === shape[1] && cols(a2) === rows(a1) && cols(a1) === shape[1]
    return ok ? undefined : `a1 ${shapeString(a1.shape)}, a2 ${shapeString(a2.shape)}, b1 ${shapeString(b1.shape)}, b2 ${shapeString(b2.shape)} do not fit the layer ${shapeString(shape)}`
  },
  delta(module, layer) {
    const [out, inp] = layer.shape
    const a1 = part(module, 'a1.weight')
    const a2 = part(module, 'a2.weight')
    const wa = matmul(matmul(layer.data, a2.data, out, inp, cols(a2)), a1.data, out, rows(a1), cols(a1))
    const d = matmulFlat(part(module, 'b2.weight'), part(module, 'b1.weight'))
    for (let i = 0; i < d.length; i++) d[i] += wa[i]
    return { weight: scaleInPlace(d, moduleScale(module, undefined)) }
  },
}
