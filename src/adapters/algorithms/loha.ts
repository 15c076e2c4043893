/**
 * LoHa (LyCORIS `loha`): Hadamard product of two low-rank products, optionally Tucker (`hada_t1` / `hada_t2`).
 * Port of A1111 `network_hada.py`:
 *   updown = (w1_a @ w1_b) * (w2_a @ w2_b)                      w?_a [out, r], w?_b [r, in·kh·kw]
 *   Tucker: make_weight_cp(t?, w?_a, w?_b)                     t? [r, r, kh, kw], w?_a [r, out], w?_b [r, in]
 *   scale = alpha / r (r = w1_b.shape[0]).
 */
import type { HostTensor } from '../../core/host-tensor.ts'
import type { AdapterModule } from '../types.ts'
import { cols, makeWeightCp, matmulFlat, scaleInPlace } from '../tensor-math.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { checkOutInner, describe, hasAll, moduleScale, part } from './common.ts'

function half(module: AdapterModule, i: 1 | 2): Float32Array {
  const a = part(module, `hada_w${i}_a`)
  const b = part(module, `hada_w${i}_b`)
  const t: HostTensor | undefined = module.parts.get(`hada_t${i}`)
  return t ? makeWeightCp(t, a, b) : matmulFlat(a, b)
}

export const loha: AdapterAlgorithm = {
  name: 'loha',
  layers: ['linear', 'conv'],
  claims: (parts) => hasAll(parts, ['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b']),
  check(module, shape) {
    const a = part(module, 'hada_w1_a')
    const b = part(module, 'hada_w1_b')
    const t = module.parts.get('hada_t1')
    const out = t ? a.shape[1] : a.shape[0]
    const inner = t ? b.shape[1] * t.shape[2] * t.shape[3] : cols(b)
    return checkOutInner(`${describe(module, 'hada_w1_a')} × ${describe(module, 'hada_w1_b')}`, out, inner, shape)
  },
  delta(module) {
    const u1 = half(module, 1)
    const u2 = half(module, 2)
    for (let i = 0; i < u1.length; i++) u1[i] *= u2[i]
    return { weight: scaleInPlace(u1, moduleScale(module, part(module, 'hada_w1_b').shape[0])) }
  },
}
