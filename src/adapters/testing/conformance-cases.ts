/**
 * One entry per adapter algorithm (and layer kind): random parts plus the BYPASS form of the adapted layer,
 * y = W x + b + m · adapter_path(x), computed with the reference ops (never with the adapter code).
 */
import type { HostTensor } from '../../core/host-tensor.ts'
import {
  activation, addBias, axpy, conv, mm, normalize, randomTensor, scaleChannels, type Activation,
} from './reference-ops.ts'

export const OUT = 6
export const IN = 4
export const R = 2
const K = 3

export type CaseLayer = 'linear' | 'conv' | 'norm'

export interface BypassInput {
  readonly x: Activation
  readonly w: HostTensor
  readonly b: Float32Array
  readonly p: Readonly<Record<string, HostTensor>>
  readonly m: number
}

export interface ConformanceCase {
  readonly name: string
  readonly algorithm: string
  readonly layer: CaseLayer
  parts(next: () => number): Record<string, HostTensor>
  bypass(i: BypassInput): Activation | Float64Array
}

const positive = (t: HostTensor): HostTensor => ({ shape: t.shape, data: t.data.map((v) => Math.abs(v) + 0.25) })
const scalar = (v: number): HostTensor => ({ shape: [], data: Float32Array.of(v) })
const k = (layer: CaseLayer): number => (layer === 'conv' ? K : 1)
/** Base layer output W x + b. */
export const baseForward = (layer: CaseLayer, x: Activation, w: HostTensor, b: Float32Array): Activation =>
  addBias(conv(x, w.data, OUT, k(layer)), b)

/** y = W x + b + m·s·(path x) for a path given as a full kernel [OUT, IN, k, k]. */
const withKernel = (layer: CaseLayer, i: BypassInput, kernel: ArrayLike<number>, s: number): Activation =>
  axpy(baseForward(layer, i.x, i.w, i.b), conv(i.x, kernel, OUT, k(layer)), i.m * s)

const alphaScale = (p: Readonly<Record<string, HostTensor>>): number => p.alpha.data[0] / R

/** Σ_{p,q} t[p,q,·] a[p,o] b[q,i] → [o, i, K, K] (LyCORIS Tucker layout a [R, out], b [R, in]). */
function tuckerKernel(t: HostTensor, a: HostTensor, b: HostTensor, out: number, inp: number): Float64Array {
  const kk = K * K
  const w = new Float64Array(out * inp * kk)
  for (let p = 0; p < R; p++) for (let q = 0; q < R; q++) for (let o = 0; o < out; o++) for (let c = 0; c < inp; c++) {
    const f = a.data[p * out + o] * b.data[q * inp + c]
    for (let e = 0; e < kk; e++) w[(o * inp + c) * kk + e] += t.data[(p * R + q) * kk + e] * f
  }
  return w
}

/** Kronecker kernel by its definition: W[(o1·O2+o2), (i1·I2+i2), e] = w1[o1, i1] · w2[o2, i2, e]. */
function kronKernel(w1: ArrayLike<number>, w2: ArrayLike<number>, d: { o1: number; i1: number; o2: number; i2: number; kk: number }): Float64Array {
  const w = new Float64Array(d.o1 * d.o2 * d.i1 * d.i2 * d.kk)
  for (let o1 = 0; o1 < d.o1; o1++) for (let i1 = 0; i1 < d.i1; i1++) for (let o2 = 0; o2 < d.o2; o2++) for (let i2 = 0; i2 < d.i2; i2++) {
    for (let e = 0; e < d.kk; e++) {
      w[((o1 * d.o2 + o2) * d.i1 * d.i2 + i1 * d.i2 + i2) * d.kk + e] = w1[o1 * d.i1 + i1] * w2[(o2 * d.i2 + i2) * d.kk + e]
    }
  }
  return w
}

const lora = (layer: 'linear' | 'conv'): ConformanceCase => ({
  name: `lora ${layer}`, algorithm: 'lora', layer,
  parts: (n) => ({
    'lora_down.weight': randomTensor(layer === 'conv' ? [R, IN, K, K] : [R, IN], n),
    'lora_up.weight': randomTensor(layer === 'conv' ? [OUT, R, 1, 1] : [OUT, R], n),
    alpha: scalar(1.5),
  }),
  bypass: (i) => {
    const h = conv(i.x, i.p['lora_down.weight'].data, R, k(layer))
    return axpy(baseForward(layer, i.x, i.w, i.b), conv(h, i.p['lora_up.weight'].data, OUT, 1), i.m * alphaScale(i.p))
  },
})

const locoTucker: ConformanceCase = {
  name: 'locon tucker (lora_mid) conv', algorithm: 'lora', layer: 'conv',
  parts: (n) => ({
    'lora_down.weight': randomTensor([R, IN, 1, 1], n), 'lora_mid.weight': randomTensor([R, R, K, K], n),
    'lora_up.weight': randomTensor([OUT, R, 1, 1], n), alpha: scalar(1),
  }),
  bypass: (i) => {
    const h = conv(conv(i.x, i.p['lora_down.weight'].data, R, 1), i.p['lora_mid.weight'].data, R, K)
    return axpy(baseForward('conv', i.x, i.w, i.b), conv(h, i.p['lora_up.weight'].data, OUT, 1), i.m * alphaScale(i.p))
  },
}

const loha = (layer: 'linear' | 'conv'): ConformanceCase => ({
  name: `loha ${layer}`, algorithm: 'loha', layer,
  parts: (n) => ({
    hada_w1_a: randomTensor([OUT, R], n), hada_w1_b: randomTensor([R, IN * k(layer) ** 2], n),
    hada_w2_a: randomTensor([OUT, R], n), hada_w2_b: randomTensor([R, IN * k(layer) ** 2], n), alpha: scalar(3),
  }),
  bypass: (i) => {
    const cols = IN * k(layer) ** 2
    const a = mm(i.p.hada_w1_a.data, i.p.hada_w1_b.data, OUT, R, cols)
    const b = mm(i.p.hada_w2_a.data, i.p.hada_w2_b.data, OUT, R, cols)
    return withKernel(layer, i, a.map((v, j) => v * b[j]), alphaScale(i.p))
  },
})

const lohaTucker: ConformanceCase = {
  name: 'loha tucker (hada_t1/t2) conv', algorithm: 'loha', layer: 'conv',
  parts: (n) => ({
    hada_t1: randomTensor([R, R, K, K], n), hada_w1_a: randomTensor([R, OUT], n), hada_w1_b: randomTensor([R, IN], n),
    hada_t2: randomTensor([R, R, K, K], n), hada_w2_a: randomTensor([R, OUT], n), hada_w2_b: randomTensor([R, IN], n),
    alpha: scalar(1),
  }),
  bypass: (i) => {
    const a = tuckerKernel(i.p.hada_t1, i.p.hada_w1_a, i.p.hada_w1_b, OUT, IN)
    const b = tuckerKernel(i.p.hada_t2, i.p.hada_w2_a, i.p.hada_w2_b, OUT, IN)
    return withKernel('conv', i, a.map((v, j) => v * b[j]), alphaScale(i.p))
  },
}

/** LoKr linear through the Kronecker identity (w1 ⊗ w2) vec(X) = vec(w1 X w2ᵀ): no Kronecker product is formed. */
const lokrLinear: ConformanceCase = {
  name: 'lokr linear (w1 full, w2 low-rank)', algorithm: 'lokr', layer: 'linear',
  parts: (n) => ({ lokr_w1: randomTensor([2, 2], n), lokr_w2_a: randomTensor([3, R], n), lokr_w2_b: randomTensor([R, 2], n), alpha: scalar(1) }),
  bypass: (i) => {
    const w2 = mm(i.p.lokr_w2_a.data, i.p.lokr_w2_b.data, 3, R, 2)
    const xw2t = new Float64Array(2 * 3) // X [i1, i2] @ w2ᵀ [i2, o2]
    for (let i1 = 0; i1 < 2; i1++) for (let o2 = 0; o2 < 3; o2++) for (let i2 = 0; i2 < 2; i2++) xw2t[i1 * 3 + o2] += i.x.data[i1 * 2 + i2] * w2[o2 * 2 + i2]
    const y = activation(OUT, 1, 1, mm(i.p.lokr_w1.data, xw2t, 2, 2, 3))
    return axpy(baseForward('linear', i.x, i.w, i.b), y, i.m * alphaScale(i.p))
  },
}

const lokrConv = (tucker: boolean): ConformanceCase => ({
  name: `lokr conv (${tucker ? 'w2 Tucker lokr_t2' : 'w2 full, no rank: scale 1'})`, algorithm: 'lokr', layer: 'conv',
  parts: (n): Record<string, HostTensor> => tucker
    ? { lokr_w1: randomTensor([2, 2], n), lokr_t2: randomTensor([R, R, K, K], n), lokr_w2_a: randomTensor([R, 3], n), lokr_w2_b: randomTensor([R, 2], n), alpha: scalar(3) }
    : { lokr_w1: randomTensor([2, 2], n), lokr_w2: randomTensor([3, 2, K, K], n), alpha: scalar(7) },
  bypass: (i) => {
    const w2 = tucker ? tuckerKernel(i.p.lokr_t2, i.p.lokr_w2_a, i.p.lokr_w2_b, 3, 2) : i.p.lokr_w2.data
    const kernel = kronKernel(i.p.lokr_w1.data, w2, { o1: 2, i1: 2, o2: 3, i2: 2, kk: K * K })
    return withKernel('conv', i, kernel, tucker ? alphaScale(i.p) : 1)
  },
})

const ia3 = (layer: 'linear' | 'conv', onInput: boolean): ConformanceCase => ({
  name: `ia3 ${layer} ${onInput ? 'on_input' : 'per output'}`, algorithm: 'ia3', layer,
  parts: (n) => ({ weight: randomTensor([onInput ? IN : OUT], n), on_input: scalar(onInput ? 1 : 0) }),
  bypass: (i) => {
    const path = onInput ? conv(scaleChannels(i.x, i.p.weight.data), i.w.data, OUT, k(layer)) : scaleChannels(conv(i.x, i.w.data, OUT, k(layer)), i.p.weight.data)
    return axpy(baseForward(layer, i.x, i.w, i.b), path, i.m)
  },
})

const full = (layer: 'linear' | 'conv'): ConformanceCase => ({
  name: `full diff + diff_b ${layer}`, algorithm: 'full', layer,
  parts: (n) => ({ diff: randomTensor(layer === 'conv' ? [OUT, IN, K, K] : [OUT, IN], n), diff_b: randomTensor([OUT], n) }),
  bypass: (i) => axpy(baseForward(layer, i.x, i.w, i.b), addBias(conv(i.x, i.p.diff.data, OUT, k(layer)), i.p.diff_b.data), i.m),
})

const normCase: ConformanceCase = {
  name: 'norm w_norm + b_norm (LayerNorm)', algorithm: 'norm', layer: 'norm',
  parts: (n) => ({ w_norm: randomTensor([IN], n), b_norm: randomTensor([IN], n) }),
  bypass: (i) => normalize(i.x.data).map((v, c) => v * i.w.data[c] + i.b[c] + i.m * (v * i.p.w_norm.data[c] + i.p.b_norm.data[c])),
}

const gloraCase: ConformanceCase = {
  name: 'glora (old layout, A1111) linear', algorithm: 'glora', layer: 'linear',
  parts: (n) => ({
    'a1.weight': randomTensor([R, IN], n), 'a2.weight': randomTensor([IN, R], n),
    'b1.weight': randomTensor([R, IN], n), 'b2.weight': randomTensor([OUT, R], n), alpha: scalar(5),
  }),
  bypass: (i) => {
    const viaB = conv(conv(i.x, i.p['b1.weight'].data, R, 1), i.p['b2.weight'].data, OUT, 1)
    const viaA = conv(conv(conv(i.x, i.p['a1.weight'].data, R, 1), i.p['a2.weight'].data, IN, 1), i.w.data, OUT, 1)
    return axpy(baseForward('linear', i.x, i.w, i.b), axpy(viaB, viaA, 1), i.m)
  },
}

/** Newer LyCORIS GLoRA: W applied after mixing the input channels by a1 (a2 x), plus b1 (b2 x); scale alpha / r. */
const gloraNew = (layer: 'linear' | 'conv'): ConformanceCase => ({
  name: `glora (newer layout) ${layer}`, algorithm: 'glora', layer,
  parts: (n) => ({
    'a1.weight': randomTensor([IN, R], n), 'a2.weight': randomTensor([R, IN], n),
    'b1.weight': randomTensor([OUT, R], n), 'b2.weight': randomTensor([R, IN * k(layer) ** 2], n), alpha: scalar(3),
  }),
  bypass: (i) => {
    const mixed = conv(conv(i.x, i.p['a2.weight'].data, R, 1), i.p['a1.weight'].data, IN, 1)
    const viaA = conv(mixed, i.w.data, OUT, k(layer))
    const viaB = conv(conv(i.x, i.p['b2.weight'].data, R, k(layer)), i.p['b1.weight'].data, OUT, 1)
    return axpy(baseForward(layer, i.x, i.w, i.b), axpy(viaA, viaB, 1), i.m * alphaScale(i.p))
  },
})

/** LyCORIS OFT: rotate each block of output channels by Rᵀ (y'_m = Σ_n R[j, n, m] y_n), bias untouched. */
const oftCase = (layer: 'linear' | 'conv'): ConformanceCase => ({
  name: `oft (oft_diag) ${layer}`, algorithm: 'oft', layer,
  parts: (n) => ({ oft_diag: randomTensor([3, 2, 2], n) }),
  bypass: (i) => {
    const z = conv(i.x, i.w.data, OUT, k(layer))
    const rot = activation(z.c, z.h, z.w)
    const hw = z.h * z.w
    for (let j = 0; j < 3; j++) for (let m = 0; m < 2; m++) for (let nn = 0; nn < 2; nn++) for (let p = 0; p < hw; p++) {
      rot.data[(j * 2 + m) * hw + p] += i.p.oft_diag.data[(j * 2 + nn) * 2 + m] * z.data[(j * 2 + nn) * hw + p]
    }
    return axpy(baseForward(layer, i.x, i.w, i.b), axpy(rot, z, -1), i.m)
  },
})

/** BOFT with one butterfly stage (b = 2: the stage's regrouping is the identity), R applied as stored, then rescale. */
const boftCase: ConformanceCase = {
  name: 'boft (4-D oft_diag, one stage) + rescale linear', algorithm: 'boft', layer: 'linear',
  parts: (n) => ({ oft_diag: randomTensor([1, 3, 2, 2], n), rescale: randomTensor([OUT, 1], n) }),
  bypass: (i) => {
    const z = conv(i.x, i.w.data, OUT, 1)
    const rot = activation(OUT, 1, 1)
    for (let d = 0; d < 3; d++) for (let r = 0; r < 2; r++) for (let c = 0; c < 2; c++) {
      rot.data[d * 2 + r] += i.p.oft_diag.data[(d * 2 + r) * 2 + c] * z.data[d * 2 + c] * i.p.rescale.data[d * 2 + r]
    }
    return axpy(baseForward('linear', i.x, i.w, i.b), axpy(rot, z, -1), i.m)
  },
}

/** DoRA: W'' = (W + sΔ) scaled per input column or output row to the stored magnitude; y = Wx + b + m(W''x − Wx). */
const doraCase = (layer: 'linear' | 'conv', axis: 'input' | 'output'): ConformanceCase => ({
  name: `dora (lora + dora_scale per ${axis}) ${layer}`, algorithm: 'lora', layer,
  parts: (n) => ({
    ...lora(layer).parts(n),
    dora_scale: positive(randomTensor(axis === 'input' ? [1, IN, ...(layer === 'conv' ? [1, 1] : [])] : [OUT, 1, ...(layer === 'conv' ? [1, 1] : [])], n)),
  }),
  bypass: (i) => {
    const kk = k(layer) ** 2
    const d = mm(i.p['lora_up.weight'].data, i.p['lora_down.weight'].data, OUT, R, IN * kk)
    const merged = d.map((v, j) => i.w.data[j] + alphaScale(i.p) * v)
    const norms = new Float64Array(axis === 'input' ? IN : OUT)
    merged.forEach((v, j) => { norms[axis === 'input' ? Math.floor(j / kk) % IN : Math.floor(j / (IN * kk))] += v * v })
    const scaled = merged.map((v, j) => {
      const c = axis === 'input' ? Math.floor(j / kk) % IN : Math.floor(j / (IN * kk))
      return v * i.p.dora_scale.data[c] / Math.sqrt(norms[c])
    })
    const base = baseForward(layer, i.x, i.w, i.b)
    return axpy(base, axpy(conv(i.x, scaled, OUT, k(layer)), conv(i.x, i.w.data, OUT, k(layer)), -1), i.m)
  },
})

export const CASES: readonly ConformanceCase[] = [
  lora('linear'), lora('conv'), locoTucker, loha('linear'), loha('conv'), lohaTucker, lokrLinear, lokrConv(false), lokrConv(true),
  ia3('linear', false), ia3('linear', true), ia3('conv', false), full('linear'), full('conv'), normCase, gloraCase, gloraNew('linear'), gloraNew('conv'),
  oftCase('linear'), oftCase('conv'), boftCase, doraCase('linear', 'input'), doraCase('conv', 'output'),
]
