/*
 * A tiny typed ONNX graph builder. Values are objects and edges are object identity; names exist only for
 * serialization and diagnostics (the onnx_ir principle). Graph inputs that carry weights are named by their
 * checkpoint key, so ORT errors show `model.diffusion_model.input_blocks.1.0.in_layers.2.weight`.
 */
import { serializedNodeOrder } from './node-order.ts'
import { encodeModel, type AttrValue, type Dim, type ElemType, type NodeData, type TensorData, type ValueInfo } from './proto.ts'

export type { Dim, ElemType }

export interface Value {
  readonly id: number
  readonly name: string
  readonly dtype: ElemType
  readonly shape: readonly Dim[]
}

/** A shape error raised while the graph is built, naming the scope (e.g. `input_blocks.4.1/MatMul`). */
export class GraphBuildError extends Error {
  override name = 'GraphBuildError'
}

export interface NodeSpec {
  readonly op: string
  readonly inputs: readonly (Value | undefined)[]
  readonly attrs?: Readonly<Record<string, AttrValue | undefined>>
  readonly domain?: string
  /** Output dtypes/shapes, one per output; the op wrappers in ops.ts compute them. */
  readonly outputs: readonly { dtype: ElemType; shape: readonly Dim[] }[]
}

export const OPSET = 21

export class Graph {
  private nextId = 0
  private readonly nodes: NodeData[] = []
  private readonly inputs: ValueInfo[] = []
  private readonly outputs: ValueInfo[] = []
  private readonly initializers: TensorData[] = []
  private readonly scopes: string[] = []
  private readonly opCounts = new Map<string, number>()
  private readonly usedNames = new Set<string>()
  private readonly domains = new Map<string, number>([['', OPSET]])

  constructor(readonly name: string) {}

  private value(name: string, dtype: ElemType, shape: readonly Dim[]): Value {
    if (this.usedNames.has(name)) throw new GraphBuildError(`${this.name}: value name "${name}" is used twice`)
    this.usedNames.add(name)
    return { id: this.nextId++, name, dtype, shape: [...shape] }
  }

  /** The current scope path, for node names and error messages. */
  where(op = ''): string {
    const s = this.scopes.join('/')
    return op ? (s ? `${s}/${op}` : op) : s || '(root)'
  }

  fail(op: string, detail: string): never {
    throw new GraphBuildError(`${this.name}: ${this.where(op)}: ${detail}`)
  }

  scope<T>(name: string, build: () => T): T {
    this.scopes.push(name)
    try { return build() } finally { this.scopes.pop() }
  }

  input(name: string, dtype: ElemType, shape: readonly Dim[]): Value {
    const v = this.value(name, dtype, shape)
    this.inputs.push({ name, dtype, shape })
    return v
  }

  /** A constant baked into the graph (small tensors only: index lists, scalars). */
  constant(dtype: ElemType, dims: readonly number[], raw: Uint8Array): Value {
    const v = this.value(`const_${this.nextId}`, dtype, dims)
    this.initializers.push({ name: v.name, dtype, dims: [...dims], raw })
    return v
  }

  output(name: string, v: Value): void {
    const out = this.node({ op: 'Identity', inputs: [v], outputs: [{ dtype: v.dtype, shape: v.shape }] }, [name])[0]
    this.outputs.push({ name: out.name, dtype: out.dtype, shape: out.shape })
  }

  /** Emits one node; output names are generated unless given. */
  node(spec: NodeSpec, outputNames?: readonly string[]): Value[] {
    const domain = spec.domain ?? ''
    if (domain && !this.domains.has(domain)) this.domains.set(domain, 1)
    const count = this.opCounts.get(spec.op) ?? 0
    this.opCounts.set(spec.op, count + 1)
    const nodeName = this.where(`${spec.op}_${count}`)
    const outs = spec.outputs.map((o, i) => this.value(outputNames?.[i] ?? `${nodeName}:${i}`, o.dtype, o.shape))
    const attrs: Record<string, AttrValue> = {}
    for (const [k, v] of Object.entries(spec.attrs ?? {})) if (v !== undefined) attrs[k] = v
    // Trailing optional inputs are dropped; inner ones are written as '' (ONNX's "absent").
    const ins = spec.inputs.map((v) => v?.name ?? '')
    while (ins.length > 0 && ins[ins.length - 1] === '') ins.pop()
    this.nodes.push({ opType: spec.op, domain, name: nodeName, inputs: ins, outputs: outs.map((o) => o.name), attrs })
    return outs
  }

  /** Histogram of emitted op types (for graph-summary tests). */
  opHistogram(): Record<string, number> { return Object.fromEntries([...this.opCounts].sort()) }

  inputNames(): string[] { return this.inputs.map((i) => i.name) }

  /** Whether any graph input has this element type (e.g. int8 weights). */
  hasInputOf(dtype: ElemType): boolean { return this.inputs.some((i) => i.dtype === dtype) }

  /**
   * Makes the float32 graph inputs named in `values` constants (initializers) with those values: onnxruntime can then
   * prepack them and use its blocked (NCHWc) convolutions. For small weight sets that never change (TAESD).
   */
  freezeInputs(values: ReadonlyMap<string, Float32Array>): void {
    for (const [name, data] of values) {
      const i = this.inputs.findIndex((v) => v.name === name)
      if (i < 0 || this.inputs[i].dtype !== 'float32') throw new GraphBuildError(`${this.name}: no float32 input "${name}" to freeze`)
      const [input] = this.inputs.splice(i, 1)
      this.initializers.push({ name, dtype: 'float32', dims: input.shape as number[], raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) })
    }
  }

  /** Names of the graph inputs of this element type (e.g. the float16 weights). */
  inputsOf(dtype: ElemType): string[] { return this.inputs.filter((i) => i.dtype === dtype).map((i) => i.name) }

  toModelProto(): Uint8Array {
    return encodeModel({
      name: this.name,
      opsets: Object.fromEntries(this.domains),
      nodes: serializedNodeOrder(this.nodes, this.outputs, this.inputs), inputs: this.inputs, outputs: this.outputs, initializers: this.initializers,
    })
  }
}
