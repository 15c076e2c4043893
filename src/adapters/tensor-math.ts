/**
 * The few dense float32 operations the adapter algorithms need. Rows are accumulated in float64 and rounded once,
 * which stays within 1 ulp-ish of torch's float32 GEMM (the goldens allow 1e-6).
 */
import type { HostTensor } from '../core/host-tensor.ts'
import { numel } from '../core/host-tensor.ts'

/** [m, k] @ [k, n] → [m, n], into `out` when given (every element is written). */
export function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number, out: Float32Array = new Float32Array(m * n)): Float32Array {
  const acc = new Float64Array(n)
  for (let i = 0; i < m; i++) {
    acc.fill(0)
    const aRow = i * k
    for (let p = 0; p < k; p++) {
      const av = a[aRow + p]
      if (av === 0) continue
      const bRow = p * n
      for (let j = 0; j < n; j++) acc[j] += av * b[bRow + j]
    }
    const oRow = i * n
    for (let j = 0; j < n; j++) out[oRow + j] = acc[j]
  }
  return out
}

/** Matrix view of a tensor: first dim × the rest (torch `reshape(shape[0], -1)`). */
export const rows = (t: HostTensor): number => t.shape[0]
export const cols = (t: HostTensor): number => numel(t.shape) / t.shape[0]

/** `a.reshape(a0, -1) @ b.reshape(b0, -1)` for two stored tensors. */
export const matmulFlat = (a: HostTensor, b: HostTensor): Float32Array => {
  if (cols(a) !== rows(b)) throw new RangeError(`matmul: [${a.shape.join(', ')}] @ [${b.shape.join(', ')}] do not chain`)
  return matmul(a.data, b.data, rows(a), cols(a), cols(b))
}

/** Transpose of a [m, n] matrix. */
export function transpose(a: Float32Array, m: number, n: number): Float32Array {
  const out = new Float32Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j]
  return out
}

/**
 * Kronecker product of [p, q, (kh, kw)] ⊗ [r, s, kh, kw] as torch.kron does it for A1111's `make_kron`:
 * w1 2-D is unsqueezed to [p, q, 1, 1] when w2 is 4-D; the result is [p·r, q·s, kh, kw] in row-major order.
 */
export function kron(w1: HostTensor, w2: HostTensor): Float32Array {
  const [p, q] = w1.shape
  const [r, s] = w2.shape
  const inner = w2.shape.length === 4 ? w2.shape[2] * w2.shape[3] : 1
  const out = new Float32Array(p * r * q * s * inner)
  const outCols = q * s
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      const a = w1.data[i * q + j]
      for (let k = 0; k < r; k++) {
        const outRow = (i * r + k) * outCols
        for (let l = 0; l < s; l++) {
          const src = (k * s + l) * inner
          const dst = (outRow + j * s + l) * inner
          for (let t = 0; t < inner; t++) out[dst + t] = a * w2.data[src + t]
        }
      }
    }
  }
  return out
}

/**
 * LyCORIS Tucker rebuild `make_weight_cp(t, wa, wb)`: t [r1, r2, kh, kw], wa [r1, out], wb [r2, in] → [out, in, kh, kw]
 * (einsum 'i j k l, j r -> i r k l' then 'i j k l, i r -> r j k l').
 */
export function makeWeightCp(t: HostTensor, wa: HostTensor, wb: HostTensor): Float32Array {
  const [r1, r2, kh, kw] = t.shape
  const out0 = wa.shape[1]
  const in0 = wb.shape[1]
  const kk = kh * kw
  // temp[i, x, kk] = Σ_j t[i, j, kk] wb[j, x]
  const temp = new Float64Array(r1 * in0 * kk)
  for (let i = 0; i < r1; i++) for (let j = 0; j < r2; j++) for (let x = 0; x < in0; x++) {
    const w = wb.data[j * in0 + x]
    for (let e = 0; e < kk; e++) temp[(i * in0 + x) * kk + e] += t.data[(i * r2 + j) * kk + e] * w
  }
  const out = new Float64Array(out0 * in0 * kk)
  for (let i = 0; i < r1; i++) for (let o = 0; o < out0; o++) {
    const w = wa.data[i * out0 + o]
    for (let x = 0; x < in0 * kk; x++) out[o * in0 * kk + x] += temp[i * in0 * kk + x] * w
  }
  return Float32Array.from(out)
}

/**
 * LoCon Tucker rebuild (A1111 `rebuild_cp_decomposition`): einsum('n m k l, i n, m j -> i j k l', mid, up, down)
 * with up [out, n], down [m, in], mid [n, m, kh, kw] → [out, in, kh, kw].
 */
export function rebuildCp(up: HostTensor, down: HostTensor, mid: HostTensor): Float32Array {
  const [n, m, kh, kw] = mid.shape
  const out0 = up.shape[0]
  const in0 = cols(down)
  const kk = kh * kw
  // tmp[n, in, kk] = Σ_m mid[n, m, kk] down[m, in]
  const tmp = new Float64Array(n * in0 * kk)
  for (let a = 0; a < n; a++) for (let b = 0; b < m; b++) for (let j = 0; j < in0; j++) {
    const d = down.data[b * in0 + j]
    for (let e = 0; e < kk; e++) tmp[(a * in0 + j) * kk + e] += mid.data[(a * m + b) * kk + e] * d
  }
  const out = new Float64Array(out0 * in0 * kk)
  const upCols = cols(up)
  for (let o = 0; o < out0; o++) for (let a = 0; a < n; a++) {
    const u = up.data[o * upCols + a]
    for (let x = 0; x < in0 * kk; x++) out[o * in0 * kk + x] += tmp[a * in0 * kk + x] * u
  }
  return Float32Array.from(out)
}

/** In-place `a *= s` with float32 rounding at each element. */
export function scaleInPlace(a: Float32Array, s: number): Float32Array {
  const f = Math.fround(s)
  for (let i = 0; i < a.length; i++) a[i] *= f
  return a
}

/** Inverse of a small dense [n, n] matrix (Gauss-Jordan with partial pivoting, float64). */
export function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a)
  const inv = new Float64Array(n * n)
  for (let i = 0; i < n; i++) inv[i * n + i] = 1
  for (let c = 0; c < n; c++) {
    let piv = c
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r
    if (m[piv * n + c] === 0) throw new RangeError('invert: singular matrix')
    if (piv !== c) for (let j = 0; j < n; j++) {
      ;[m[c * n + j], m[piv * n + j]] = [m[piv * n + j], m[c * n + j]]
      ;[inv[c * n + j], inv[piv * n + j]] = [inv[piv * n + j], inv[c * n + j]]
    }
    const d = m[c * n + c]
    for (let j = 0; j < n; j++) { m[c * n + j] /= d; inv[c * n + j] /= d }
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = m[r * n + c]
      if (f === 0) continue
      for (let j = 0; j < n; j++) { m[r * n + j] -= f * m[c * n + j]; inv[r * n + j] -= f * inv[c * n + j] }
    }
  }
  return inv
}
