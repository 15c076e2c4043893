/**
 * GLoRA (LyCORIS `glora`), two stored layouts told apart by shape (as ComfyUI's weight_adapter/glora.py does):
 * - old LyCORIS, what A1111 `network_glora.py` runs (Linear only; A1111 gives it no rank, so scale 1):
 *     updown = b2 @ b1 + (W @ a2) @ a1            b2 [out, r], b1 [r, in], a2 [in, r], a1 [r, in]
 * - newer LyCORIS (A1111 cannot read it; LyCORIS / ComfyUI semantics, scale alpha / r, Linear and Conv):
 *     updown = W ×_in (a1 @ a2) + b1 @ b2          a1 [in, r], a2 [r, in], b1 [out, r], b2 [r, in·kh·kw]
 *   where ×_in multiplies the input-channel axis of W [out, in(, kh, kw)].
 * A square layer fits both; like ComfyUI, it is read as the old layout when the old shapes match.
 */
import { numel, shapeString } from '../../core/host-tensor.ts'
import { cols, matmul, matmulFlat, rows, scaleInPlace } from '../tensor-math.ts'
import type { AdapterAlgorithm, AdapterModule } from '../types.ts'
import { hasAll, moduleScale, part } from './common.ts'

type Layout = 'old' | 'new'

function layout(module: AdapterModule, shape: readonly number[]): Layout | undefined {
  const [a1, a2, b1, b2] = ['a1.weight', 'a2.weight', 'b1.weight', 'b2.weight'].map((n) => part(module, n))
  const [out, inp] = shape
  const inner = numel(shape) / out
  const old = shape.length === 2 && rows(b2) === out && cols(b2) === rows(b1) && cols(b1) === inp
    && rows(a2) === inp && cols(a2) === rows(a1) && cols(a1) === inp
  if (old) return 'old'
  const isNew = rows(a1) === inp && cols(a1) === rows(a2) && cols(a2) === inp
    && rows(b1) === out && cols(b1) === rows(b2) && cols(b2) === inner
  return isNew ? 'new' : undefined
}

/** W [out, in, kk] with its input axis multiplied by m [in, in]: r[o, j, e] = Σ_i W[o, i, e] m[i, j]. */
function mixInputs(w: Float32Array, m: Float32Array, out: number, inp: number, kk: number): Float32Array {
  const r = new Float64Array(out * inp * kk)
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) for (let j = 0; j < inp; j++) {
    const f = m[i * inp + j]
    if (f === 0) continue
    for (let e = 0; e < kk; e++) r[(o * inp + j) * kk + e] += w[(o * inp + i) * kk + e] * f
  }
  return Float32Array.from(r)
}

export const glora: AdapterAlgorithm = {
  name: 'glora',
  layers: ['linear', 'conv'],
  claims: (parts) => hasAll(parts, ['a1.weight', 'a2.weight', 'alpha', 'b1.weight', 'b2.weight']),
  check(module, shape) {
    if (layout(module, shape)) return undefined
    const [a1, a2, b1, b2] = ['a1.weight', 'a2.weight', 'b1.weight', 'b2.weight'].map((n) => part(module, n))
    return `a1 ${shapeString(a1.shape)}, a2 ${shapeString(a2.shape)}, b1 ${shapeString(b1.shape)}, b2 ${shapeString(b2.shape)} fit neither GLoRA layout for the layer ${shapeString(shape)}`
  },
  delta(module, layer) {
    const [out, inp] = layer.shape
    const a1 = part(module, 'a1.weight')
    const a2 = part(module, 'a2.weight')
    if (layout(module, layer.shape) === 'old') {
      const wa = matmul(matmul(layer.data, a2.data, out, inp, cols(a2)), a1.data, out, rows(a1), cols(a1))
      const d = matmulFlat(part(module, 'b2.weight'), part(module, 'b1.weight'))
      for (let i = 0; i < d.length; i++) d[i] += wa[i]
      return { weight: scaleInPlace(d, moduleScale(module, undefined)) }
    }
    const kk = layer.data.length / (out * inp)
    const d = mixInputs(layer.data, matmulFlat(a1, a2), out, inp, kk)
    const b = matmulFlat(part(module, 'b1.weight'), part(module, 'b2.weight'))
    for (let i = 0; i < d.length; i++) d[i] += b[i]
    return { weight: scaleInPlace(d, moduleScale(module, cols(a1))) }
  },
}
