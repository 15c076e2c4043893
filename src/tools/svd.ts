/**
 * Truncated SVD for the LoRA tools, built on the adapter layer's MatmulBackend (onnxruntime's GEMM for the large
 * products, JS for the small ones) plus a little dense f64 algebra for the l×l cores.
 *
 * - `randomizedSvd(D, rank)`: Halko, Martinsson & Tropp 2011 (arXiv:0909.4061), Algorithm 4.4 (subspace iteration):
 *     Y = D Ω, Q = orth(Y); q times: Q' = orth(Dᵀ Q), Q = orth(D Q'); B = Qᵀ D (l×n); then the SVD of B.
 *   Every pass over D is one [m×n]·[n×l] GEMM; the rest costs O((m+n)·l²). With l ≥ rank(D) the range is captured
 *   exactly (up to float32 rounding), so a full-rank extraction reconstructs D.
 * - `factorSvd(up, down)`: the exact SVD of a product up [m×r] · down [r×n] (a LoRA), from QR of both factors and the
 *   SVD of the r×r core: never forms the m×n matrix.
 * Both return U [m×k], S [k] (descending), Vt [k×n], row-major float32.
 */
import { AUTO_MATMUL } from '../adapters/ort-matmul.ts'
import type { MatmulBackend } from '../adapters/types.ts'

export interface Svd {
  readonly u: Float32Array
  readonly s: Float64Array
  readonly vt: Float32Array
  readonly m: number
  readonly n: number
  readonly k: number
}

export interface RandomizedSvdOptions {
  /** Extra columns beyond the rank (Halko's p); default 8. */
  readonly oversample?: number
  /** Subspace iterations (Halko's q); default 2: enough for the slowly decaying spectra of fine-tune differences. */
  readonly powerIterations?: number
  readonly matmul?: MatmulBackend
  readonly seed?: number
}

/** Columns of a row-major [m×k] matrix, in float64. */
function columns(a: ArrayLike<number>, m: number, k: number): Float64Array[] {
  const out = Array.from({ length: k }, () => new Float64Array(m))
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) out[j][i] = a[i * k + j]
  return out
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

/**
 * Orthonormal basis of the columns of a row-major [m×k] matrix (modified Gram–Schmidt, twice: "twice is enough",
 * Giraud et al. 2005). A column that vanishes after projection becomes zero, so rank-deficient input is fine.
 * Returns row-major [m×k] float32.
 */
export function orthonormalize(a: ArrayLike<number>, m: number, k: number): Float32Array {
  const q = columns(a, m, k)
  for (let j = 0; j < k; j++) {
    const v = q[j]
    const before = Math.sqrt(dot(v, v))
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const r = dot(q[i], v)
        if (r !== 0) for (let t = 0; t < m; t++) v[t] -= r * q[i][t]
      }
    }
    const norm = Math.sqrt(dot(v, v))
    if (norm <= before * 1e-9 || norm === 0) v.fill(0)
    else for (let t = 0; t < m; t++) v[t] /= norm
  }
  const out = new Float32Array(m * k)
  for (let j = 0; j < k; j++) for (let i = 0; i < m; i++) out[i * k + j] = q[j][i]
  return out
}

/** Transpose of a row-major [m×n] matrix. */
export function transposeF32(a: Float32Array, m: number, n: number): Float32Array {
  const out = new Float32Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j]
  return out
}

/**
 * SVD of a small dense [n×n] matrix by one-sided Jacobi (Hestenes): rotate column pairs of A until orthogonal; the
 * column norms are the singular values. Accurate to float64 rounding, O(n³) per sweep; for the l×l cores only.
 */
export function jacobiSvd(a: ArrayLike<number>, n: number): { u: Float64Array[]; s: Float64Array; v: Float64Array[] } {
  const cols = columns(a, n, n)
  const v = Array.from({ length: n }, (_, j) => { const c = new Float64Array(n); c[j] = 1; return c })
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = dot(cols[p], cols[p])
        const beta = dot(cols[q], cols[q])
        const gamma = dot(cols[p], cols[q])
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue
        rotated = true
        const zeta = (beta - alpha) / (2 * gamma)
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = c * t
        rotate(cols[p], cols[q], c, s)
        rotate(v[p], v[q], c, s)
      }
    }
    if (!rotated) break
  }
  const s = Float64Array.from(cols, (c) => Math.sqrt(dot(c, c)))
  const order = [...s.keys()].sort((x, y) => s[y] - s[x])
  const u = order.map((j) => (s[j] > 0 ? cols[j].map((x) => x / s[j]) : new Float64Array(n)))
  return { u, s: Float64Array.from(order, (j) => s[j]), v: order.map((j) => v[j]) }
}

function rotate(x: Float64Array, y: Float64Array, c: number, s: number): void {
  for (let i = 0; i < x.length; i++) {
    const a = x[i]
    const b = y[i]
    x[i] = c * a - s * b
    y[i] = s * a + c * b
  }
}

/** Gaussian [n×l] test matrix from a seeded xorshift + Box–Muller (the same numbers every run). */
function gaussian(count: number, seed: number): Float32Array {
  let x = seed >>> 0 || 0x9e3779b9
  const uniform = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return ((x >>> 0) + 0.5) / 4294967296 }
  const out = new Float32Array(count)
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()))
    const t = 2 * Math.PI * uniform()
    out[i] = r * Math.cos(t)
    if (i + 1 < count) out[i + 1] = r * Math.sin(t)
  }
  return out
}

/**
 * Turns D ≈ Q·B (Q [m×l] orthonormal, B [l×n]) into an SVD: QR of Bᵀ = P·R, SVD of the core R ᵀ (l×l) = Uc S Vcᵀ,
 * then U = Q·Uc, Vt = (P·Vc)ᵀ. Truncated to k.
 */
async function svdFromRange(q: Float32Array, b: Float32Array, dims: { m: number; n: number; l: number; k: number }, mm: MatmulBackend): Promise<Svd> {
  const { m, n, l, k } = dims
  const bt = transposeF32(b, l, n)
  const p = orthonormalize(bt, n, l)
  const core = await mm.matmul(b, p, l, n, l) // Rᵀ = B·P  [l×l]
  const { u: uc, s, v: vc } = jacobiSvd(core, l)
  const ucK = new Float32Array(l * k)
  const vcK = new Float32Array(l * k)
  for (let j = 0; j < k; j++) for (let i = 0; i < l; i++) { ucK[i * k + j] = uc[j][i]; vcK[i * k + j] = vc[j][i] }
  const u = await mm.matmul(q, ucK, m, l, k)
  const v = await mm.matmul(p, vcK, n, l, k)
  return { u, s: s.slice(0, k), vt: transposeF32(v, n, k), m, n, k }
}

/** The leading `rank` singular triplets of a row-major [m×n] float32 matrix (see the file comment). */
export async function randomizedSvd(d: Float32Array, m: number, n: number, rank: number, o: RandomizedSvdOptions = {}): Promise<Svd> {
  const mm = o.matmul ?? AUTO_MATMUL
  const k = Math.max(1, Math.min(rank, m, n))
  const l = Math.min(k + (o.oversample ?? 8), m, n)
  let q = orthonormalize(await mm.matmul(d, gaussian(n * l, o.seed ?? 1), m, n, l), m, l)
  for (let it = 0; it < (o.powerIterations ?? 2); it++) {
    const z = await mm.matmul(transposeF32(q, m, l), d, l, m, n) // Qᵀ D  [l×n]
    const qz = orthonormalize(transposeF32(z, l, n), n, l)
    q = orthonormalize(await mm.matmul(d, qz, m, n, l), m, l)
  }
  const b = await mm.matmul(transposeF32(q, m, l), d, l, m, n)
  return svdFromRange(q, b, { m, n, l, k }, mm)
}

/**
 * Exact SVD of up [m×r] · down [r×n] truncated to k: up = Qu·Ru, downᵀ = Qd·Rd, SVD of Ru·Rdᵀ (r×r).
 * The product is never formed, so a rank-128 LoRA of a 5120-wide layer costs O((m+n)·r²).
 */
export async function factorSvd(up: Float32Array, down: Float32Array, dims: { m: number; r: number; n: number; k: number }, mm: MatmulBackend = AUTO_MATMUL): Promise<Svd> {
  const { m, r, n } = dims
  const qu = orthonormalize(up, m, r)
  const ru = await mm.matmul(transposeF32(qu, m, r), up, r, m, r) // [r×r]
  // D = Qu·(Ru·down) = Qu·B with B [r×n]: the same finishing step as the randomized path.
  const b = await mm.matmul(ru, down, r, r, n)
  return svdFromRange(qu, b, { m, n, l: r, k: Math.max(1, Math.min(dims.k, r, m, n)) }, mm)
}
