/** File-level facts from the header alone: dtype breakdown, parameter count, EMA weights. */
import type { DType } from '../../core/dtype.ts'
import type { KeyIndex } from './key-index.ts'

export interface DTypeShare {
  /** The stored type: a DType, or a block quantization such as Q8_0 (GGUF). */
  readonly dtype: DType | string
  readonly tensors: number
  readonly parameters: number
  readonly bytes: number
}

export interface TensorSummary {
  readonly tensorCount: number
  readonly parameterCount: number
  readonly dtypes: readonly DTypeShare[]
  /** LDM EMA copy (`model_ema.*` beyond the `decay`/`num_updates` counters). */
  readonly ema: { readonly present: boolean; readonly tensors: number; readonly parameters: number }
}

const EMA_PREFIX = 'model_ema.'
const EMA_COUNTERS = new Set(['model_ema.decay', 'model_ema.num_updates'])

export function summarizeTensors(ix: KeyIndex): TensorSummary {
  const byType = new Map<string, { tensors: number; parameters: number; bytes: number }>()
  let parameterCount = 0
  let emaTensors = 0
  let emaParams = 0
  for (const k of ix.keys) {
    const info = ix.info(k)
    const n = info.shape.reduce((a, b) => a * b, 1)
    parameterCount += n
    const type = info.stored?.type ?? info.dtype
    const t = byType.get(type) ?? { tensors: 0, parameters: 0, bytes: 0 }
    t.tensors++
    t.parameters += n
    t.bytes += info.stored?.byteLength ?? info.byteLength
    byType.set(type, t)
    if (k.startsWith(EMA_PREFIX) && !EMA_COUNTERS.has(k)) { emaTensors++; emaParams += n }
  }
  const dtypes = [...byType].map(([dtype, t]) => ({ dtype, ...t })).sort((a, b) => b.bytes - a.bytes)
  return { tensorCount: ix.keys.length, parameterCount, dtypes, ema: { present: emaTensors > 0, tensors: emaTensors, parameters: emaParams } }
}
