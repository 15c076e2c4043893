/*
 * The node list a graph is serialized with. In graphs with weight-only int8 (graph/int8-weights.ts) or float16 weights
 * (kept at their stored width, models/weights.ts) each run computes a float32 copy of every weight, so how long those copies live is the run's memory (BENCHMARKS.md "SDXL int8 memory
 * (session 6)"). Two fixes, both leaving float32-only graphs byte for byte as built:
 *  - Unused nodes are dropped. ops.transpose builds a transposed weight as a DequantizeLinear of transposed codes,
 *    leaving the one `bind` made unused; onnxruntime 1.23 still ran those and their outputs stayed allocated until the
 *    run ended (SDXL at a 16² latent: +8.5 GiB over the session, of which 7 GiB left with them; CPU −75%).
 *  - Weight conversions (DequantizeLinear; Cast of a float16 weight input), with the Transposes feeding them, go first. onnxruntime orders execution by a
 *    depth-first walk back from the outputs that enters a node's inputs highest node index first: a dequantized
 *    weight made after its consumer's activation input was computed before that input's whole subgraph, so the
 *    Linear weights of a depth-10 SDXL transformer were all alive together (≈1 GiB). With lower indices than any
 *    activation, each runs just before its consumer.
 */
import type { NodeData, ValueInfo } from './proto.ts'

/** `nodes` without unused ones, weight conversions first; the list unchanged when the graph has no compact weights. */
export function serializedNodeOrder(nodes: readonly NodeData[], outputs: readonly ValueInfo[], inputs: readonly ValueInfo[] = []): readonly NodeData[] {
  const half = new Set(inputs.filter((i) => i.dtype === 'float16').map((i) => i.name))
  const converts = (n: NodeData): boolean => n.opType === 'DequantizeLinear' || (n.opType === 'Cast' && half.size > 0)
  if (!nodes.some(converts)) return nodes
  return weightsFirst(usedNodes(nodes, outputs), converts)
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
 * Conversion nodes whose inputs are graph inputs, initializers or Transposes of those (the int8 codes or half values
 * ops.transpose moves) go to the front with those Transposes, keeping their relative order; everything else follows.
 */
function weightsFirst(nodes: readonly NodeData[], converts: (n: NodeData) => boolean): NodeData[] {
  const producer = new Map<string, NodeData>()
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n)
  const fromInputs = (n: NodeData): boolean => n.inputs.every((x) => !producer.has(x))
  const moved = new Set<NodeData>()
  for (const n of nodes) {
    if (!converts(n)) continue
    const feeding = n.inputs.map((x) => producer.get(x)).filter((p): p is NodeData => p !== undefined)
    if (feeding.every((p) => p.opType === 'Transpose' && fromInputs(p))) for (const m of [...feeding, n]) moved.add(m)
  }
  return [...nodes.filter((n) => moved.has(n)), ...nodes.filter((n) => !moved.has(n))]
}
