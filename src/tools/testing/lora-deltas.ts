/**
 * Test-only: the weight delta of every module of a kohya LoRA file, (alpha / rank) · up @ down in float64, computed
 * from the raw tensors (independently of lora-file.ts and the adapter layer).
 */
import { mm } from '../../adapters/testing/reference-ops.ts'
import { readAll } from './variants.ts'

export async function loraDeltas(file: string): Promise<Map<string, Float64Array>> {
  return new Map([...(await loraDeltaMatrices(file))].map(([k, v]) => [k, v.data]))
}

/** The deltas with their row count (out features). */
export async function loraDeltaMatrices(file: string): Promise<Map<string, { data: Float64Array; rows: number }>> {
  const t = await readAll(file)
  const out = new Map<string, { data: Float64Array; rows: number }>()
  for (const [key, down] of t) {
    if (!key.endsWith('.lora_down.weight')) continue
    const name = key.slice(0, -'.lora_down.weight'.length)
    const up = t.get(`${name}.lora_up.weight`)!
    const rank = down.shape[0]
    const inner = down.data.length / rank
    const alpha = t.get(`${name}.alpha`)?.data[0] ?? rank
    out.set(name, { data: mm(up.data, down.data, up.shape[0], rank, inner).map((v) => v * alpha / rank), rows: up.shape[0] })
  }
  return out
}

/** ‖a − b‖_F / ‖b‖_F. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < b.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2 }
  return Math.sqrt(num / den)
}

export const frobenius = (a: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * a[i]; return Math.sqrt(s) }

/** Largest singular value of a row-major [rows × cols] matrix, by power iteration on AᵀA in float64. */
export function largestSingularValue(a: Float64Array, rows: number): number {
  const cols = a.length / rows
  let v = new Float64Array(cols).fill(1 / Math.sqrt(cols))
  let sigma = 0
  for (let it = 0; it < 500; it++) {
    const av = new Float64Array(rows)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) av[i] += a[i * cols + j] * v[j]
    const w = new Float64Array(cols)
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[j] += a[i * cols + j] * av[i]
    const norm = frobenius(w)
    if (norm === 0) return 0
    v = w.map((x) => x / norm)
    sigma = Math.sqrt(norm)
  }
  return sigma
}
