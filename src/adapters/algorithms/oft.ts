/**
 * OFT: a block-diagonal rotation of the output channels. Port of A1111 `network_oft.py` (webui v1.9):
 * - kohya `oft_blocks` [k, b, b] with `alpha` (a constraint): Q = B − Bᵀ, ‖Q‖ clamped to alpha·out, R = (I + Q)(I − Q)⁻¹;
 * - LyCORIS `oft_diag` [k, b, b]: R as stored. (A1111 re-derives k and b with `factorization(out, b)`, which swaps
 *   them when b > √out; the stored [k, b, b] is used here.)
 * Merged rows of block j: W'[j·b + m] = Σ_n R[j, n, m] · W[j·b + n], times `rescale[row]` when present;
 * updown = W' − W; scale 1. (ComfyUI instead builds R from `oft_diag` by the Cayley map, as LyCORIS 3 trains it;
 * A1111, the target here, uses the stored blocks as they are.) BOFT (4-D `oft_diag`) is boft.ts.
 */
import { shapeString } from '../../core/host-tensor.ts'
import { invert } from '../tensor-math.ts'
import type { AdapterAlgorithm, AdapterModule } from '../types.ts'
import { part } from './common.ts'

const blocksOf = (module: AdapterModule) => module.parts.get('oft_blocks') ?? part(module, 'oft_diag')

/** R per block, [k, b, b], float64. */
function rotations(module: AdapterModule, outDim: number): Float64Array {
  const t = blocksOf(module)
  const [k, b] = t.shape
  if (!module.parts.has('oft_blocks')) return Float64Array.from(t.data)
  const q = new Float64Array(k * b * b)
  let norm = 0
  for (let j = 0; j < k; j++) for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) {
    const v = t.data[(j * b + r) * b + c] - t.data[(j * b + c) * b + r]
    q[(j * b + r) * b + c] = v
    norm += v * v
  }
  norm = Math.sqrt(norm)
  const constraint = part(module, 'alpha').data[0] * outDim
  const f = (Math.min(norm, constraint) + 1e-8) / (norm + 1e-8)
  const out = new Float64Array(k * b * b)
  for (let j = 0; j < k; j++) {
    const plus = new Float64Array(b * b)
    const minus = new Float64Array(b * b)
    for (let i = 0; i < b * b; i++) {
      const eye = i % (b + 1) === 0 ? 1 : 0
      plus[i] = eye + f * q[j * b * b + i]
      minus[i] = eye - f * q[j * b * b + i]
    }
    const inv = invert(minus, b)
    for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) {
      let s = 0
      for (let x = 0; x < b; x++) s += plus[r * b + x] * inv[x * b + c]
      out[(j * b + r) * b + c] = s
    }
  }
  return out
}

export const oft: AdapterAlgorithm = {
  name: 'oft',
  layers: ['linear', 'conv'],
  claims: (parts) => parts.has('oft_blocks') || (parts.has('oft_diag') && parts.get('oft_diag')!.shape.length === 3),
  check(module, shape) {
    const t = blocksOf(module)
    return t.shape[0] * t.shape[1] === shape[0] && t.shape[1] === t.shape[2]
      ? undefined : `${module.parts.has('oft_blocks') ? 'oft_blocks' : 'oft_diag'} ${shapeString(t.shape)} does not tile ${shape[0]} output channels`
  },
  delta(module, layer) {
    const out = layer.shape[0]
    const [k, b] = blocksOf(module).shape
    const rowLen = layer.data.length / out
    const r = rotations(module, out)
    const d = new Float32Array(layer.data.length)
    const acc = new Float64Array(rowLen)
    for (let j = 0; j < k; j++) for (let m = 0; m < b; m++) {
      acc.fill(0)
      for (let n = 0; n < b; n++) {
        const rv = r[(j * b + n) * b + m]
        const src = (j * b + n) * rowLen
        for (let e = 0; e < rowLen; e++) acc[e] += rv * layer.data[src + e]
      }
      const dst = (j * b + m) * rowLen
      const rescale = module.parts.get('rescale')?.data[j * b + m] ?? 1
      for (let e = 0; e < rowLen; e++) d[dst + e] = Math.fround(Math.fround(acc[e]) * rescale) - layer.data[dst + e]
    }
    return { weight: d }
  },
}
