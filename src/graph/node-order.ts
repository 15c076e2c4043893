/*
 * The node list a graph is serialized with. In graphs with weight-only int8 (graph/int8-weights.ts) or float16 weights
 * (kept at their stored width, models/weights.ts) each run computes a float32 copy of every weight, so how long those copies live is the run's memory (BENCHMARKS.md "SDXL int8 memory
 * (session 6)"). Two fixes, both leaving float32-only graphs byte for byte as built:
 *  - Unused nodes are dropped. ops.transpose builds a transposed weight as a DequantizeLinear of transposed codes,
 *    leaving the one `bind` made unused; onnxruntime 1.23 still ran those and their outputs stayed allocated until the
 *    run ended (SDXL at a 16² latent: +8.5 GiB over the session, of which 7 GiB left with them; CPU −75%).
 *  - Weight conversions (DequantizeLinear; Cast of a float16 weight input; the sign flip that makes int8 codes the
 *    uint8 ConvInteger takes), with the Transposes feeding them, go first. onnxruntime orders execution by a
 *    depth-first walk back from the outputs that enters a node's inputs highest node index first: a dequantized
 *    weight made after its consumer's activation input was computed before that input's whole subgraph, so the
 *    Linear weights of a depth-10 SDXL transformer were all alive together (≈1 GiB). With lower indices than any
 *    activation, each runs just before its consumer.
 */
import type { NodeData, ValueInfo } from './proto.ts'

/** Ops that turn a stored weight into what its consumer takes. */
const CONVERSIONS = new Set(['DequantizeLinear', 'Cast', 'BitwiseXor', 'Transpose'])

/**
 * `nodes` without unused ones, weight conversions first; the list unchanged when no graph input is a compact weight
 * (int8 codes, float16 values).
 */
export function serializedNodeOrder(nodes: readonly NodeData[], outputs: readonly ValueInfo[], inputs: readonly ValueInfo[] = []): readonly NodeData[] {
  const compact = new Set(inputs.filter((i) => i.dtype === 'float16' || i.dtype === 'int8').map((i) => i.name))
  if (compact.size === 0) return nodes
  return weightsFirst(usedNodes(nodes, outputs), compact)
}

/** Nodes some graph output depends on, in their order. */
function usedNodes(nodes: readonly NodeData[], outputs: readonly ValueInfo[]): NodeData[] {
  const needed = new Set(outputs.map((o) => o.name))
  const kept: NodeData[] = []
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]
    if (!n.outputs.some((o) => needed.has(o))) continue
    kept.push(n)
    for (const x of n.inputs) needed.add(x)
  }
  return kept.reverse()
}

/**
 * Chains of conversion ops computed from graph inputs and initializers alone (a weight's Transpose, DequantizeLinear,
 * Cast, sign flip) go to the front, keeping their relative order; a chain that is only Transposes stays (an input
 * reshaped for an activation path is not a weight). Everything else follows as built.
 */
function weightsFirst(nodes: readonly NodeData[], compactInputs: ReadonlySet<string>): NodeData[] {
  const producer = new Map<string, NodeData>()
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n)
  // conversions of a compact (int8 / float16) weight input, transitively, whose other inputs are inputs or constants
  const chain = new Set<NodeData>()
  for (const n of nodes) {
    if (!CONVERSIONS.has(n.opType)) continue
    const from = n.inputs.filter((x) => x !== '').map((x) => producer.get(x))
    if (!from.every((p) => !p || chain.has(p))) continue
    if (from.some((p) => p !== undefined) || n.inputs.some((x) => compactInputs.has(x))) chain.add(n)
  }
  // keep a chain's nodes when it reaches a conversion that is not a Transpose
  const moved = new Set<NodeData>()
  const keep = (n: NodeData): void => {
    if (moved.has(n)) return
    moved.add(n)
    for (const x of n.inputs) { const p = producer.get(x); if (p) keep(p) }
  }
  for (const n of chain) if (n.opType !== 'Transpose') keep(n)
  return [...nodes.filter((n) => moved.has(n)), ...nodes.filter((n) => !moved.has(n))]
}
