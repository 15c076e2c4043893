/**
 * A MatmulBackend on onnxruntime-node: one MatMul graph with symbolic dims, so every LoRA product (up @ down) runs
 * on ORT's multi-threaded GEMM instead of a JS loop (hundreds of times faster on full-size models).
 */
import { Graph } from '../graph/builder.ts'
import { matmul } from '../graph/ops.ts'
import { GraphSession } from '../graph/session.ts'
import { matmul as jsMatmul } from './tensor-math.ts'
import type { MatmulBackend } from './types.ts'

const NO_WEIGHTS = { get: (): Float32Array => { throw new Error('the matmul graph has no weights') }, shape: (): number[] => [] }

export interface OrtMatmul extends MatmulBackend {
  release(): Promise<void>
}

export async function createOrtMatmul(threads?: number): Promise<OrtMatmul> {
  const g = new Graph('adapter_matmul')
  const a = g.input('a', 'float32', ['m', 'k'])
  const b = g.input('b', 'float32', ['k', 'n'])
  g.output('y', matmul(g, a, b))
  const session = await GraphSession.create(g, { weightKeys: [], ...(threads ? { threads } : {}) })
  return {
    async matmul(x, y, m, k, n) {
      const out = await session.run({ a: { shape: [m, k], data: x }, b: { shape: [k, n], data: y } }, NO_WEIGHTS)
      return out.y.data
    },
    release: () => session.release(),
  }
}

/** Products below this many multiply-adds stay in JS (a session call costs more than the arithmetic). */
export const ORT_MIN_FLOPS = 1 << 22

let shared: Promise<OrtMatmul> | undefined

/**
 * The patch set's default backend: small products in JS, large ones on one process-wide onnxruntime session,
 * created on first need and kept for the life of the process.
 */
export const AUTO_MATMUL: MatmulBackend = {
  async matmul(a, b, m, k, n) {
    if (m * k * n < ORT_MIN_FLOPS) return jsMatmul(a, b, m, k, n)
    shared ??= createOrtMatmul()
    return (await shared).matmul(a, b, m, k, n)
  },
}
