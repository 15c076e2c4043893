/*
 * One typed wrapper per ONNX op sdloom emits (opset 21). Each computes its output shape and checks its inputs
 * eagerly, so a channel mismatch fails while building, naming the scope, instead of later inside ORT.
 * Semantics: https://onnx.ai/onnx/operators/
 */
import type { Graph, Value } from './builder.ts'
import type { AttrValue, Dim, ElemType } from './proto.ts'
import { broadcastShapes, dimsEqual, fmtShape, isKnown, normAxis, product, unknownDim } from './shape.ts'
import { excessInputName } from './int8-weights.ts'

const one = (g: Graph, op: string, inputs: (Value | undefined)[], dtype: ElemType, shape: readonly Dim[], attrs?: Record<string, any>, domain?: string): Value =>
  g.node({ op, inputs, attrs, domain, outputs: [{ dtype, shape }] })[0]

// ---- constants ----
export function constF32(g: Graph, values: readonly number[], dims: readonly number[] = [values.length]): Value {
  return g.constant('float32', dims, new Uint8Array(new Float32Array(values).buffer))
}
export const scalarF32 = (g: Graph, v: number): Value => constF32(g, [v], [])
export function constI64(g: Graph, values: readonly number[], dims: readonly number[] = [values.length]): Value {
  return g.constant('int64', dims, new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer))
}

// ---- elementwise ----
function binary(op: string) {
  return (g: Graph, a: Value, b: Value): Value => {
    const shape = broadcastShapes(a.shape, b.shape)
    if (!shape) g.fail(op, `cannot broadcast ${fmtShape(a.shape)} with ${fmtShape(b.shape)}`)
    return one(g, op, [a, b], a.dtype, shape)
  }
}
export const add = binary('Add')
export const sub = binary('Sub')
export const mul = binary('Mul')
export const div = binary('Div')
export const pow = binary('Pow')

function unary(op: string) {
  return (g: Graph, x: Value): Value => one(g, op, [x], x.dtype, x.shape)
}
export const sigmoid = unary('Sigmoid')
export const tanh = unary('Tanh')
export const erf = unary('Erf')
export const sin = unary('Sin')
export const cos = unary('Cos')
export const exp = unary('Exp')
export const sqrt = unary('Sqrt')
export const neg = unary('Neg')
export const identity = unary('Identity')
export const relu = unary('Relu')

export const gelu = (g: Graph, x: Value, approximate: 'none' | 'tanh' = 'none'): Value =>
  one(g, 'Gelu', [x], x.dtype, x.shape, { approximate })

export const cast = (g: Graph, x: Value, to: ElemType): Value => {
  const codes: Record<ElemType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 }
  return one(g, 'Cast', [x], to, x.shape, { to: codes[to] })
}

/**
 * int8 codes × per-slice scales → float32 (DequantizeLinear, symmetric: no zero point). `axis` is the dimension the
 * 1-D scale runs along (0 = a torch weight's output channels).
 */
export function dequantizeLinear(g: Graph, q: Value, scale: Value, axis = 0): Value {
  if (q.dtype !== 'int8') g.fail('DequantizeLinear', `codes must be int8, got ${q.dtype}`)
  if (scale.shape.length !== 1 || !dimsEqual(scale.shape[0], q.shape[axis])) {
    g.fail('DequantizeLinear', `scale ${fmtShape(scale.shape)} does not match axis ${axis} of ${fmtShape(q.shape)}`)
  }
  const out = one(g, 'DequantizeLinear', [q, scale], 'float32', q.shape, { axis })
  dequantized.set(out, { q, scale, axis })
  return out
}

/** A float16 weight input cast to float32 where it is used (exact); a Transpose of it moves the half values. */
export function widenWeight(g: Graph, half: Value): Value {
  if (half.dtype !== 'float16') g.fail('Cast', `a widened weight must be float16, got ${half.dtype}`)
  const out = cast(g, half, 'float32')
  widened.set(out, half)
  return out
}

const widened = new WeakMap<Value, Value>()

/**
 * Outputs of dequantizeLinear and their operands. A Transpose of one is built as a DequantizeLinear of the
 * transposed codes: onnxruntime 1.23's transpose optimizer, given DequantizeLinear → Transpose on int8, inserts a
 * QuantizeLinear typed uint8 and the session fails to load; transposing the int8 codes also moves a quarter of the bytes.
 */
const dequantized = new WeakMap<Value, { q: Value; scale: Value; axis: number }>()

/**
 * Graphs whose Conv and MatMul on int8 weights run onnxruntime's integer kernels (`--weights w8a8`): the activation is
 * quantized per tensor as each layer runs (DynamicQuantizeLinear, uint8), multiplied in integers with the weight's
 * codes and rescaled. 2.1–3.3× faster per layer than float32 here (BENCHMARKS.md "w8a8"), at the cost of the
 * activation rounding. Registered before the layers are built; graphs without it keep DequantizeLinear + float32.
 */
const integerGraphs = new WeakSet<Graph>()
export const useIntegerKernels = (g: Graph): void => { integerGraphs.add(g) }

/** `a · b` for int8 codes `dq` of b [K, N] with per-column scales: com.microsoft DynamicQuantizeMatMul. */
function integerMatMul(g: Graph, a: Value, dq: { q: Value; scale: Value }, n: Dim): Value {
  return g.node({ op: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs: [a, dq.q, dq.scale], outputs: [{ dtype: 'float32', shape: [...a.shape.slice(0, -1), n] }] })[0]
}

/**
 * Conv with int8 codes (per-output-channel scales): DynamicQuantizeLinear + ConvInteger. onnxruntime's ConvInteger takes
 * uint8 weights only, so it is given code + 128 with zero point 128: fed as its own input (int8-weights.ts
 * excessInputName) where the codes are a graph input, else flipped in the graph.
 */
function integerConv(g: Graph, x: Value, dq: { q: Value; scale: Value }, b: Value | undefined, shape: Dim[], attrs: Record<string, AttrValue | undefined>): Value {
  const [xq, xScale, xZero] = g.node({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: [{ dtype: 'uint8', shape: x.shape }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }] })
  const codes = g.inputNames().includes(dq.q.name)
    ? g.input(excessInputName(dq.q.name), 'uint8', dq.q.shape)
    : cast(g, one(g, 'BitwiseXor', [dq.q, g.constant('int8', [], Uint8Array.of(0x80))], 'int8', dq.q.shape), 'uint8')
  const y = one(g, 'ConvInteger', [xq, codes, xZero, g.constant('uint8', [], Uint8Array.of(128))], 'int32', shape, attrs)
  const o = shape[1] as number
  const scaled = mul(g, cast(g, y, 'float32'), mul(g, reshape(g, dq.scale, [1, o, 1, 1]), xScale))
  return b ? add(g, scaled, reshape(g, b, [1, o, 1, 1])) : scaled
}

/** The graph input name (checkpoint key) of a weight value, also when it is the dequantized form of int8 codes. */
export const weightKey = (w: Value): string => dequantized.get(w)?.q.name ?? widened.get(w)?.name ?? w.name

// ---- linear algebra ----
export function matmul(g: Graph, a: Value, b: Value): Value {
  if (a.shape.length < 2 || b.shape.length < 2) g.fail('MatMul', `needs rank >= 2, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`)
  const k1 = a.shape[a.shape.length - 1]
  const k2 = b.shape[b.shape.length - 2]
  if (!dimsEqual(k1, k2)) g.fail('MatMul', `inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`)
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2))
  if (!batch) g.fail('MatMul', `batch dims do not broadcast: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`)
  const dq = dequantized.get(b)
  if (dq && integerGraphs.has(g) && b.shape.length === 2 && dq.axis === 1) return integerMatMul(g, a, dq, b.shape[1])
  return one(g, 'MatMul', [a, b], a.dtype, [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]])
}

/** Y = A · Bᵀ + C for 2-D A [M, K] and B [N, K] (a Linear layer's weight layout). */
export function gemmTransB(g: Graph, a: Value, b: Value, c?: Value): Value {
  if (a.shape.length !== 2 || b.shape.length !== 2) g.fail('Gemm', `needs 2-D inputs, got ${fmtShape(a.shape)}, ${fmtShape(b.shape)}`)
  if (!dimsEqual(a.shape[1], b.shape[1])) g.fail('Gemm', `input has ${a.shape[1]} features but the weight expects ${b.shape[1]} (weight ${fmtShape(b.shape)})`)
  return one(g, 'Gemm', [a, b, c], a.dtype, [a.shape[0], b.shape[0]], { transB: 1 })
}

// ---- convolution and normalization ----
export interface ConvAttrs { readonly pads?: readonly [number, number, number, number]; readonly strides?: readonly [number, number]; readonly group?: number }

function convOut(size: Dim, k: number, p0: number, p1: number, s: number): Dim {
  return isKnown(size) ? Math.floor((size + p0 + p1 - k) / s) + 1 : (k === 1 + p0 + p1 && s === 1 ? size : unknownDim('conv'))
}

export function conv(g: Graph, x: Value, w: Value, b: Value | undefined, a: ConvAttrs = {}): Value {
  const [n, c, h, wd] = x.shape
  const [o, ci, kh, kw] = w.shape
  const group = a.group ?? 1
  if (x.shape.length !== 4 || w.shape.length !== 4) g.fail('Conv', `needs 4-D input and weight, got ${fmtShape(x.shape)}, ${fmtShape(w.shape)}`)
  if (isKnown(c) && isKnown(ci) && c !== ci * group) g.fail('Conv', `input has ${c} channels but the weight ${fmtShape(w.shape)} expects ${(ci as number) * group}`)
  const pads = a.pads ?? [0, 0, 0, 0]
  const strides = a.strides ?? [1, 1]
  if (!isKnown(kh) || !isKnown(kw)) g.fail('Conv', 'kernel size must be known')
  const shape = [n, o, convOut(h, kh, pads[0], pads[2], strides[0]), convOut(wd, kw, pads[1], pads[3], strides[1])]
  const attrs = { pads: [...pads], strides: [...strides], group: group === 1 ? undefined : group }
  const dq = dequantized.get(w)
  if (dq && integerGraphs.has(g) && dq.axis === 0 && isKnown(o)) return integerConv(g, x, dq, b, shape, attrs)
  return one(g, 'Conv', [x, w, b], x.dtype, shape, attrs)
}

/** GroupNormalization-21: scale and bias are per channel [C]. */
export function groupNorm(g: Graph, x: Value, scale: Value, bias: Value, a: { numGroups: number; epsilon: number }): Value {
  const c = x.shape[1]
  if (isKnown(c) && c % a.numGroups !== 0) g.fail('GroupNormalization', `${c} channels do not split into ${a.numGroups} groups`)
  if (!dimsEqual(scale.shape[0], c)) g.fail('GroupNormalization', `scale ${fmtShape(scale.shape)} does not match ${c} channels`)
  return one(g, 'GroupNormalization', [x, scale, bias], x.dtype, x.shape, { num_groups: a.numGroups, epsilon: { float: a.epsilon } })
}

export function layerNorm(g: Graph, x: Value, scale: Value, bias: Value, epsilon: number): Value {
  const c = x.shape[x.shape.length - 1]
  if (!dimsEqual(scale.shape[0], c)) g.fail('LayerNormalization', `scale ${fmtShape(scale.shape)} does not match last dim ${c} of ${fmtShape(x.shape)}`)
  return one(g, 'LayerNormalization', [x, scale, bias], x.dtype, x.shape, { axis: -1, epsilon: { float: epsilon } })
}

export const softmax = (g: Graph, x: Value, axis = -1): Value => one(g, 'Softmax', [x], x.dtype, x.shape, { axis })

// ---- shape manipulation ----
/** Reshape with ONNX semantics: 0 copies the input dim, -1 is inferred. */
export function reshape(g: Graph, x: Value, dims: readonly number[]): Value {
  const out: Dim[] = dims.map((d, i) => (d === 0 ? x.shape[i] : d))
  const inferred = out.indexOf(-1)
  if (inferred >= 0) {
    const total = product(x.shape)
    const rest = product(out.filter((_, i) => i !== inferred))
    out[inferred] = isKnown(total) && isKnown(rest) ? total / rest : unknownDim('r')
    if (isKnown(out[inferred]) && !Number.isInteger(out[inferred])) g.fail('Reshape', `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(dims)}`)
  } else {
    const a = product(x.shape); const b = product(out)
    if (isKnown(a) && isKnown(b) && a !== b) g.fail('Reshape', `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(dims)}`)
  }
  return one(g, 'Reshape', [x, constI64(g, dims)], x.dtype, out)
}

export function transpose(g: Graph, x: Value, perm: readonly number[]): Value {
  if (perm.length !== x.shape.length) g.fail('Transpose', `perm ${fmtShape(perm)} for rank ${x.shape.length}`)
  const dq = dequantized.get(x)
  if (dq) return dequantizeLinear(g, transpose(g, dq.q, perm), dq.scale, perm.indexOf(dq.axis))
  const half = widened.get(x)
  if (half) return widenWeight(g, transpose(g, half, perm))
  return one(g, 'Transpose', [x], x.dtype, perm.map((p) => x.shape[p]), { perm: [...perm] })
}

export function concat(g: Graph, xs: readonly Value[], axis: number): Value {
  const rank = xs[0].shape.length
  const ax = normAxis(axis, rank)
  const shape = [...xs[0].shape]
  let total: Dim = 0
  for (const x of xs) {
    if (x.shape.length !== rank || !x.shape.every((d, i) => i === ax || dimsEqual(d, shape[i]))) {
      g.fail('Concat', `shapes ${xs.map((v) => fmtShape(v.shape)).join(', ')} differ outside axis ${axis}`)
    }
    total = isKnown(total) && isKnown(x.shape[ax]) ? total + (x.shape[ax] as number) : unknownDim('cat')
  }
  shape[ax] = total
  return one(g, 'Concat', [...xs], xs[0].dtype, shape, { axis })
}

/** Static slice along one axis: [start, end) (end may exceed the size, as in ONNX). */
export function slice(g: Graph, x: Value, axis: number, start: number, end: number): Value {
  const ax = normAxis(axis, x.shape.length)
  const size = x.shape[ax]
  const shape = [...x.shape]
  shape[ax] = isKnown(size) ? Math.max(0, Math.min(end, size) - Math.min(start, size)) : (end - start < 1e9 ? end - start : unknownDim('s'))
  return one(g, 'Slice', [x, constI64(g, [start]), constI64(g, [end]), constI64(g, [axis])], x.dtype, shape)
}

export function unsqueeze(g: Graph, x: Value, axes: readonly number[]): Value {
  const shape = [...x.shape]
  for (const a of [...axes].sort((p, q) => p - q)) shape.splice(normAxis(a, shape.length + 1), 0, 1)
  return one(g, 'Unsqueeze', [x, constI64(g, axes)], x.dtype, shape)
}

export function squeeze(g: Graph, x: Value, axes: readonly number[]): Value {
  const drop = new Set(axes.map((a) => normAxis(a, x.shape.length)))
  return one(g, 'Squeeze', [x, constI64(g, axes)], x.dtype, x.shape.filter((_, i) => !drop.has(i)))
}

export function gather(g: Graph, data: Value, indices: Value, axis = 0): Value {
  const ax = normAxis(axis, data.shape.length)
  const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)]
  return one(g, 'Gather', [data, indices], data.dtype, shape, { axis })
}

export const shapeOf = (g: Graph, x: Value): Value => one(g, 'Shape', [x], 'int64', [x.shape.length])

/** Nearest-neighbour resize to the spatial size of `like` (ONNX Resize with `sizes`; asymmetric + floor = torch nearest). */
export function resizeNearestLike(g: Graph, x: Value, like: Value): Value {
  const sizes = concat(g, [slice(g, shapeOf(g, x), 0, 0, 2), slice(g, shapeOf(g, like), 0, 2, 4)], 0)
  return one(g, 'Resize', [x, undefined, undefined, sizes], x.dtype, [x.shape[0], x.shape[1], like.shape[2], like.shape[3]],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })
}

/** Nearest-neighbour ×2 upsample (torch F.interpolate(scale_factor=2, mode="nearest")). */
export function upsample2x(g: Graph, x: Value): Value {
  const dbl = (d: Dim): Dim => (isKnown(d) ? d * 2 : unknownDim('up'))
  return one(g, 'Resize', [x, undefined, constF32(g, [1, 1, 2, 2])], x.dtype, [x.shape[0], x.shape[1], dbl(x.shape[2]), dbl(x.shape[3])],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })
}

export function reduceMean(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  const ax = new Set(axes.map((a) => normAxis(a, x.shape.length)))
  const shape = keepdims ? x.shape.map((d, i) => (ax.has(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.has(i))
  return one(g, 'ReduceMean', [x, constI64(g, axes)], x.dtype, shape, { keepdims: keepdims ? 1 : 0 })
}

export function argmax(g: Graph, x: Value, axis: number, keepdims = false): Value {
  const ax = normAxis(axis, x.shape.length)
  const shape = keepdims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax)
  return one(g, 'ArgMax', [x], 'int64', shape, { axis, keepdims: keepdims ? 1 : 0 })
}

/** Picks row `index[b]` of x[b] for each batch item: x [B, T, C], index [B] (int64) → [B, C]. */
export function gatherRows(g: Graph, x: Value, index: Value): Value {
  const idx = unsqueeze(g, unsqueeze(g, index, [1]), [2])                 // [B, 1, 1]
  const expanded = one(g, 'Expand', [idx, concat(g, [slice(g, shapeOf(g, x), 0, 0, 1), constI64(g, [1]), slice(g, shapeOf(g, x), 0, 2, 3)], 0)],
    'int64', [x.shape[0], 1, x.shape[2]])
  return squeeze(g, one(g, 'GatherElements', [x, expanded], x.dtype, [x.shape[0], 1, x.shape[2]], { axis: 1 }), [1])
}

/** Reshape x to `like`'s first `keep` dims followed by `tail` (dynamic: works with symbolic leading dims). */
export function reshapeLike(g: Graph, x: Value, like: Value, keep: number, tail: readonly number[]): Value {
  const target = concat(g, [slice(g, shapeOf(g, like), 0, 0, keep), constI64(g, tail)], 0)
  const lead = like.shape.slice(0, keep)
  const total = product(x.shape)
  const known = product([...lead, ...tail])
  if (isKnown(total) && isKnown(known) && total !== known) g.fail('Reshape', `cannot reshape ${fmtShape(x.shape)} to ${fmtShape([...lead, ...tail])}`)
  return one(g, 'Reshape', [x, target], x.dtype, [...lead, ...tail])
}

/** Reshape x to the full (possibly symbolic) shape of `like`; element counts must agree. */
export function reshapeAs(g: Graph, x: Value, like: Value): Value {
  const a = product(x.shape); const b = product(like.shape)
  if (isKnown(a) && isKnown(b) && a !== b) g.fail('Reshape', `cannot reshape ${fmtShape(x.shape)} to ${fmtShape(like.shape)}`)
  return one(g, 'Reshape', [x, shapeOf(g, like)], x.dtype, like.shape)
}

/** Clip-13: clamp x to [min, max] (torch.clamp). */
export const clip = (g: Graph, x: Value, min: number, max: number): Value =>
  one(g, 'Clip', [x, scalarF32(g, min), scalarF32(g, max)], x.dtype, x.shape)

/** InstanceNormalization-6: normalizes each (n, c) slice of x [N, C, ...] over the rest; scale and bias are [C]. */
export function instanceNorm(g: Graph, x: Value, scale: Value, bias: Value, epsilon: number): Value {
  if (x.shape.length < 3) g.fail('InstanceNormalization', `needs rank >= 3, got ${fmtShape(x.shape)}`)
  if (!dimsEqual(scale.shape[0], x.shape[1])) g.fail('InstanceNormalization', `scale ${fmtShape(scale.shape)} does not match ${x.shape[1]} channels`)
  return one(g, 'InstanceNormalization', [x, scale, bias], x.dtype, x.shape, { epsilon: { float: epsilon } })
}
