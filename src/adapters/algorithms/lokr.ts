/**
 * LoKr (LyCORIS `lokr`): Kronecker product w1 ⊗ w2, each full or low-rank (`_a @ _b`), w2 optionally Tucker (`lokr_t2`).
 * Port of A1111 `network_lokr.py`:
 *   updown = kron(w1, w2).reshape(weight shape); a 2-D w1 is unsqueezed to [p, q, 1, 1] when w2 is 4-D.
 *   scale = alpha / r where r = lokr_w2_b.shape[0] if present, else lokr_w1_b.shape[0] if present; a full w1 and w2
 *   have no rank: scale 1 (LyCORIS then stores alpha = rank, which is not used).
 */
import type { HostTensor } from '../../core/host-tensor.ts'
import { numel } from '../../core/host-tensor.ts'
import { cols, kron, makeWeightCp, matmulFlat, scaleInPlace } from '../tensor-math.ts'
import type { AdapterAlgorithm, AdapterModule } from '../types.ts'
import { checkOutInner, moduleScale, part } from './common.ts'

const has = (parts: ReadonlyMap<string, unknown>, i: 1 | 2): boolean =>
  parts.has(`lokr_w${i}`) || (parts.has(`lokr_w${i}_a`) && parts.has(`lokr_w${i}_b`))

function factor(module: AdapterModule, i: 1 | 2): HostTensor {
  const full = module.parts.get(`lokr_w${i}`)
  if (full) return full
  const a = part(module, `lokr_w${i}_a`)
  const b = part(module, `lokr_w${i}_b`)
  const t = i === 2 ? module.parts.get('lokr_t2') : undefined
  if (t) return { shape: [a.shape[1], b.shape[1], t.shape[2], t.shape[3]], data: makeWeightCp(t, a, b) }
  return { shape: [a.shape[0], cols(b)], data: matmulFlat(a, b) }
}

/** Rows and flattened columns of a factor, from shapes only. */
function factorDims(module: AdapterModule, i: 1 | 2): [number, number] {
  const full = module.parts.get(`lokr_w${i}`)
  if (full) return [full.shape[0], numel(full.shape) / full.shape[0]]
  const a = part(module, `lokr_w${i}_a`)
  const b = part(module, `lokr_w${i}_b`)
  const t = i === 2 ? module.parts.get('lokr_t2') : undefined
  return t ? [a.shape[1], b.shape[1] * t.shape[2] * t.shape[3]] : [a.shape[0], cols(b)]
}

export const lokr: AdapterAlgorithm = {
  name: 'lokr',
  layers: ['linear', 'conv'],
  claims: (parts) => has(parts, 1) && has(parts, 2),
  check(module, shape) {
    const [r1, c1] = factorDims(module, 1)
    const [r2, c2] = factorDims(module, 2)
    return checkOutInner(`kron([${r1}, ${c1}], [${r2}, ${c2}])`, r1 * r2, c1 * c2, shape)
  },
  delta(module) {
    const rank = module.parts.get('lokr_w2_b')?.shape[0] ?? module.parts.get('lokr_w1_b')?.shape[0]
    return { weight: scaleInPlace(kron(factor(module, 1), factor(module, 2)), moduleScale(module, rank)) }
  },
}
