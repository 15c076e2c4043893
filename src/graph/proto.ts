/*
 * A minimal protobuf encoder for the parts of onnx.proto3 that sdloom emits
 * (https://github.com/onnx/onnx/blob/v1.16.0/onnx/onnx.proto3). Field numbers are quoted from that file.
 * Writing is all we need: ModelProto bytes go straight to InferenceSession.create().
 */

/** Growable byte sink with protobuf wire-format primitives. */
export class ProtoWriter {
  private buf = new Uint8Array(1024)
  private len = 0

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.len + extra) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  private byte(b: number): void { this.ensure(1); this.buf[this.len++] = b }

  /** Unsigned varint of a non-negative safe integer or bigint; negatives are written as 10-byte two's complement. */
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v))
    while (x >= 0x80n) { this.byte(Number(x & 0x7fn) | 0x80); x >>= 7n }
    this.byte(Number(x))
  }

  private tag(field: number, wire: number): void { this.varint((field << 3) | wire) }

  int(field: number, v: number | bigint): void { this.tag(field, 0); this.varint(v) }

  float(field: number, v: number): void {
    this.tag(field, 5)
    this.ensure(4)
    new DataView(this.buf.buffer).setFloat32(this.len, v, true)
    this.len += 4
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2)
    this.varint(data.length)
    this.ensure(data.length)
    this.buf.set(data, this.len)
    this.len += data.length
  }

  string(field: number, s: string): void { this.bytes(field, new TextEncoder().encode(s)) }

  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter()
    write(inner)
    this.bytes(field, inner.finish())
  }

  packedInts(field: number, values: readonly number[]): void {
    const inner = new ProtoWriter()
    for (const v of values) inner.varint(v)
    this.bytes(field, inner.finish())
  }

  packedFloats(field: number, values: readonly number[]): void {
    const data = new Uint8Array(values.length * 4)
    const dv = new DataView(data.buffer)
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true))
    this.bytes(field, data)
  }

  finish(): Uint8Array { return this.buf.slice(0, this.len) }
}

/** onnx TensorProto.DataType values. */
export const ONNX_DTYPE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 } as const
export type ElemType = keyof typeof ONNX_DTYPE

export type Dim = number | string

export interface TensorData {
  readonly name: string
  readonly dtype: ElemType
  readonly dims: readonly number[]
  readonly raw: Uint8Array
}

export type AttrValue = number | string | readonly number[] | TensorData | { readonly float: number } | { readonly floats: readonly number[] }

export interface NodeData {
  readonly opType: string
  readonly domain: string
  readonly name: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly attrs: Readonly<Record<string, AttrValue>>
}

export interface ValueInfo { readonly name: string; readonly dtype: ElemType; readonly shape: readonly Dim[] }

export interface ModelData {
  readonly opsets: Readonly<Record<string, number>>
  readonly nodes: readonly NodeData[]
  readonly inputs: readonly ValueInfo[]
  readonly outputs: readonly ValueInfo[]
  readonly initializers: readonly TensorData[]
  readonly name: string
}

function writeTensor(w: ProtoWriter, t: TensorData): void {
  w.packedInts(1, t.dims)               // dims
  w.int(2, ONNX_DTYPE[t.dtype])         // data_type
  w.string(8, t.name)                   // name
  w.bytes(9, t.raw)                     // raw_data
}

function writeAttr(w: ProtoWriter, name: string, v: AttrValue): void {
  w.string(1, name)
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}: ${v} is not an integer; use { float: ${v} }`)
    w.int(3, v); w.int(20, 2)           // i, type INT
  } else if (typeof v === 'string') {
    w.string(4, v); w.int(20, 3)        // s, type STRING
  } else if (Array.isArray(v)) {
    w.packedInts(8, v as number[]); w.int(20, 7) // ints, type INTS
  } else if ('float' in v) {
    w.float(2, v.float); w.int(20, 1)   // f, type FLOAT
  } else if ('floats' in v) {
    w.packedFloats(7, v.floats); w.int(20, 6)
  } else {
    w.message(5, (t) => writeTensor(t, v as TensorData)); w.int(20, 4)
  }
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name)
  w.message(2, (type) => type.message(1, (tt) => {       // TypeProto.tensor_type
    tt.int(1, ONNX_DTYPE[v.dtype])                        // elem_type
    tt.message(2, (shape) => {                            // TensorShapeProto
      for (const d of v.shape) {
        shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)))
      }
    })
  }))
}

function writeNode(w: ProtoWriter, n: NodeData): void {
  for (const i of n.inputs) w.string(1, i)
  for (const o of n.outputs) w.string(2, o)
  w.string(3, n.name)
  w.string(4, n.opType)
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, (a) => writeAttr(a, k, v))
  if (n.domain) w.string(7, n.domain)
}

/** Encodes a ModelProto (IR version 10). */
export function encodeModel(m: ModelData): Uint8Array {
  const w = new ProtoWriter()
  w.int(1, 10)                                           // ir_version (10 = opset 21)
  w.string(2, 'sdloom')                                  // producer_name
  w.message(7, (g) => {                                  // graph
    for (const n of m.nodes) g.message(1, (x) => writeNode(x, n))
    g.string(2, m.name)
    for (const t of m.initializers) g.message(5, (x) => writeTensor(x, t))
    for (const v of m.inputs) g.message(11, (x) => writeValueInfo(x, v))
    for (const v of m.outputs) g.message(12, (x) => writeValueInfo(x, v))
  })
  for (const [domain, version] of Object.entries(m.opsets)) {
    w.message(8, (o) => { if (domain) o.string(1, domain); o.int(2, version) })
  }
  return w.finish()
}
