/**
 * BOFT (LyCORIS butterfly OFT, 4-D `oft_diag` [m, k, b, b]). Port of A1111 `network_oft.py` (webui v1.10):
 * the output channels go through m butterfly stages; stage i regroups the rows (c g s) → (c s g) with g = 2 and
 * s = 2^i · b/2, multiplies each run of b rows by its block R[i, d] (row' = R · rows), and regroups back.
 * As in A1111 the stored blocks are used as the rotations themselves, and `rescale` (per output channel) multiplies
 * the result. updown = merged − W; scale 1.
 */
import { shapeString } from '../../core/host-tensor.ts'
import type { AdapterAlgorithm } from '../types.ts'
import { part } from './common.ts'

/** Source row of each destination row for (c g s) → (c s g), g = 2; rows = c · 2 · s. */
function butterflyOrder(rows: number, s: number): Int32Array {
  const order = new Int32Array(rows)
  for (let c = 0; c < rows / (2 * s); c++) for (let g = 0; g < 2; g++) for (let k = 0; k < s; k++) {
    order[c * 2 * s + k * 2 + g] = c * 2 * s + g * s + k
  }
  return order
}

/** One stage on a [rows, rowLen] matrix (float64). */
function stage(w: Float64Array, rowLen: number, blocks: Float32Array, b: number, s: number): Float64Array {
  const rows = w.length / rowLen
  const order = butterflyOrder(rows, s)
  const out = new Float64Array(w.length)
  for (let d = 0; d < rows / b; d++) for (let i = 0; i < b; i++) {
    const dst = order[d * b + i] * rowLen
    for (let j = 0; j < b; j++) {
      const f = blocks[(d * b + i) * b + j]
      if (f === 0) continue
      const src = order[d * b + j] * rowLen
      for (let e = 0; e < rowLen; e++) out[dst + e] += f * w[src + e]
    }
  }
  return out
}

export const boft: AdapterAlgorithm = {
  name: 'boft',
  layers: ['linear', 'conv'],
  claims: (parts) => parts.get('oft_diag')?.shape.length === 4,
  check(module, shape) {
    const [m, k, b, b2] = part(module, 'oft_diag').shape
    const fits = b === b2 && b % 2 === 0 && k * b === shape[0] && shape[0] % (2 ** m * (b / 2)) === 0
    return fits ? undefined : `oft_diag ${shapeString(part(module, 'oft_diag').shape)} does not butterfly ${shape[0]} output channels`
  },
  delta(module, layer) {
    const t = part(module, 'oft_diag')
    const [m, k, b] = t.shape
    const rowLen = layer.data.length / layer.shape[0]
    let w: Float64Array = Float64Array.from(layer.data)
    for (let i = 0; i < m; i++) w = stage(w, rowLen, t.data.subarray(i * k * b * b, (i + 1) * k * b * b), b, 2 ** i * (b / 2))
    const rescale = module.parts.get('rescale')
    const d = new Float32Array(layer.data.length)
    for (let i = 0; i < d.length; i++) {
      const merged = Math.fround(w[i]) * (rescale ? rescale.data[Math.floor(i / rowLen)] : 1)
      d[i] = Math.fround(merged) - layer.data[i]
    }
    return { weight: d }
  },
}
