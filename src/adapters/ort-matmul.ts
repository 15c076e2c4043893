/**
 * A MatmulBackend on onnxruntime-node: one MatMul graph with symbolic dims, so every LoRA product (up @ down) runs
 * on ORT's multi-threaded GEMM instead of a JS loop. The session is created here rather than through
 * graph/session.ts for two options that matter between many short runs: the product is written straight into an
 * array we allocate (no copy out of ORT), and ORT's worker threads do not spin after a run (spinning threads steal
 * the cores the JS side needs for composing the patched weights).
 */
import { availableParallelism } from 'node:os'
import * as ort from 'onnxruntime-node'
import { Graph } from '../graph/builder.ts'
import { matmul } from '../graph/ops.ts'
import { matmul as jsMatmul } from './tensor-math.ts'
import type { MatmulBackend } from './types.ts'

export interface OrtMatmul extends MatmulBackend {
  release(): Promise<void>
}

export async function createOrtMatmul(threads = availableParallelism()): Promise<OrtMatmul> {
  const g = new Graph('adapter_matmul')
  const a = g.input('a', 'float32', ['m', 'k'])
  const b = g.input('b', 'float32', ['k', 'n'])
  g.output('y', matmul(g, a, b))
  const session = await ort.InferenceSession.create(g.toModelProto(), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  })
  const output = session.outputNames[0]
  return {
    async matmul(x, y, m, k, n, out: Float32Array = new Float32Array(m * n)) {
      await session.run(
        { a: new ort.Tensor('float32', x, [m, k]), b: new ort.Tensor('float32', y, [k, n]) },
        { [output]: new ort.Tensor('float32', out, [m, n]) },
      )
      return out
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
  async matmul(a, b, m, k, n, out) {
    if (m * k * n < ORT_MIN_FLOPS) return jsMatmul(a, b, m, k, n, out)
    shared ??= createOrtMatmul()
    return (await shared).matmul(a, b, m, k, n, out)
  },
}
