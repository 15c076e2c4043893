/*
 * Scalar float32 ports of log256_ps and sincos256_ps from pytorch v1.13.1 aten/src/ATen/native/cpu/avx_mathfun.h
 * (Giovanni Garberoglio's AVX version of Julien Pommier's sse_mathfun, after Cephes logf/sinf/cosf). torch's CPU
 * randn runs them for tensors of >= 16 floats, so matching its noise needs their exact rounding, not Math.log/sin.
 * Every intermediate is rounded to float32 (Math.fround) in the order the vector code computes it. GCC builds that
 * header with -mfma and its default -ffp-contract=fast, so each single-use product feeding an add becomes one fused
 * multiply-add: `fma` below marks exactly those places (without them about 1% of values are off by one ulp).
 */
const fr = Math.fround
const f64 = new Float64Array(1)
const w64 = new Uint32Array(f64.buffer)

/**
 * fmaf(a, b, c) for float32 inputs: a·b is exact in float64; the sum is rounded to odd in float64 (53 >= 24 + 2
 * bits), so the final rounding to float32 is the single correct rounding a hardware FMA does.
 */
function fma(a: number, b: number, c: number): number {
  const p = a * b
  const s = p + c
  const bp = s - c
  const err = (p - bp) + (c - (s - bp))
  if (err === 0) return fr(s)
  f64[0] = s
  if ((w64[0] & 1) === 0) {
    if ((err > 0) === (s > 0)) w64[0] += 1
    else if (w64[0] === 0) { w64[0] = 0xffffffff; w64[1] -= 1 } else w64[0] -= 1
  }
  return fr(f64[0])
}
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

const SQRTHF = fr(0.707106781186547524)
const LOG_P = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].map(fr)
const LOG_Q1 = fr(-2.12194440e-4)
const LOG_Q2 = fr(0.693359375)
const MIN_NORM_POS = 2 ** -126

/** log256_ps for one lane: NaN for x <= 0. */
export function logCephes(x: number): number {
  if (!(x > 0)) return NaN
  f32[0] = Math.max(x, MIN_NORM_POS)
  const bits = u32[0]
  u32[0] = (bits & ~0x7f800000) | 0x3f000000 // mantissa with exponent of 0.5: m in [0.5, 1)
  let m = f32[0]
  let e = fr((bits >>> 23) - 127 + 1)
  const below = m < SQRTHF
  const tmp = below ? m : 0
  m = fr(m - 1)
  if (below) e = fr(e - 1)
  m = fr(m + tmp)
  const z = fr(m * m)
  let y = LOG_P[0]
  for (let i = 1; i < LOG_P.length; i++) y = fma(y, m, LOG_P[i])
  y = fr(y * m)
  y = fma(y, z, fr(e * LOG_Q1))
  y = fma(-z, 0.5, y)
  return fma(e, LOG_Q2, fr(m + y))
}

const FOPI = fr(1.27323954473516)
const DP1 = fr(-0.78515625)
const DP2 = fr(-2.4187564849853515625e-4)
const DP3 = fr(-3.77489497744594108e-8)
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fr)
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fr)

/** sincos256_ps for one lane (accurate for |x| < 8192, as the original). */
export function sinCosCephes(x: number): { sin: number; cos: number } {
  const negative = x < 0
  let a = Math.abs(x)
  let j = Math.trunc(fr(a * FOPI)) | 0
  j = (j + 1) & ~1
  const y = j
  const sinFlip = ((j & 4) !== 0) !== negative
  const cosFlip = (~(j - 2) & 4) !== 0
  const sinPoly = (j & 2) === 0
  a = fma(y, DP1, a)
  a = fma(y, DP2, a)
  a = fma(y, DP3, a)
  const z = fr(a * a)
  let c = COS_P[0]
  c = fma(c, z, COS_P[1])
  c = fma(c, z, COS_P[2])
  c = fma(fr(c * z), z, -fr(z * 0.5))
  c = fr(c + 1)
  let s = SIN_P[0]
  s = fma(s, z, SIN_P[1])
  s = fma(s, z, SIN_P[2])
  s = fma(fr(s * z), a, a)
  const sinV = sinPoly ? s : c
  const cosV = sinPoly ? c : s
  return { sin: sinFlip ? -sinV : sinV, cos: cosFlip ? -cosV : cosV }
}
