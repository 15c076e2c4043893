/**
 * `resizeLora`: kohya's `networks/resize_lora.py`. For each module, the SVD of up·down (svd.ts `factorSvd`: exact,
 * without forming the product) is truncated to a new rank chosen
 *   statically   --rank R (conv modules: --conv-rank, default R), or
 *   dynamically  sv_ratio       keep σ_i > σ_0 / X
 *                sv_cumulative  keep until Σσ_i reaches X·Σσ
 *                sv_fro         keep until √Σσ_i² reaches X·‖W‖_F (the Frobenius fraction X)
 *                with --rank as a cap;
 * as kohya indexes it (`index_sv_*` + 1, at least 1, at most len(S) − 1 where len(S) = min(out, in·kh·kw)).
 * up = U·S, down = Vᵀ, alpha = scale·new_rank with the module's own scale = alpha/rank, so the delta keeps its
 * strength (kohya reads the scale per module too). A new rank above the module's rank is capped at it (kohya pads
 * with zero singular values, which only wastes space).
 */
import { basename, resolve } from 'node:path'
import { InputError } from '../core/errors.ts'
import type { MatmulBackend } from '../adapters/types.ts'
import { kohyaMetadata, readLoraFile, writeLoraFile, type LoraModule } from './lora-file.ts'
import { factorSvd } from './svd.ts'
import type { TargetDType } from './convert.ts'

export type DynamicMethod = 'sv_ratio' | 'sv_cumulative' | 'sv_fro'
export const DYNAMIC_METHODS: readonly DynamicMethod[] = ['sv_ratio', 'sv_cumulative', 'sv_fro']

export interface ResizeOptions {
  /** Static rank, or the cap of a dynamic one (default: each module's rank). */
  readonly rank?: number
  readonly convRank?: number
  readonly dynamic?: { readonly method: DynamicMethod; readonly param: number }
  readonly dtype?: TargetDType
  readonly matmul?: MatmulBackend
  readonly onProgress?: (done: number, total: number) => void
}

export interface ResizedLayer {
  readonly module: string
  readonly oldRank: number
  readonly newRank: number
  readonly alpha: number
  /** √(Σ kept σ²) / √(Σ σ²). */
  readonly froRetained: number
  readonly sumRetained: number
}

export interface ResizeReport {
  readonly input: string
  readonly output: string
  readonly layers: readonly ResizedLayer[]
  readonly meanFroRetained: number
}

const MIN_SV = 1e-6

/** First index i with sorted[i] ≥ v (torch.searchsorted, left). */
const searchsorted = (sorted: readonly number[], v: number): number => { const i = sorted.findIndex((x) => x >= v); return i < 0 ? sorted.length : i }
const cumsum = (xs: readonly number[]): number[] => { let a = 0; return xs.map((x) => (a += x)) }

/** kohya's `index_sv_*` for singular values `s` of a matrix with `n` = min(out, inner) of them (the rest 0). */
export function dynamicIndex(method: DynamicMethod, s: readonly number[], n: number, param: number): number {
  const clampIndex = (i: number) => Math.max(1, Math.min(i, n - 1))
  switch (method) {
    case 'sv_ratio': return clampIndex(s.filter((x) => x > s[0] / param).length)
    case 'sv_cumulative': { const total = s.reduce((a, x) => a + x, 0); return clampIndex(searchsorted(cumsum(s).map((x) => x / total), param) + 1) }
    case 'sv_fro': { const sq = s.map((x) => x * x); const total = sq.reduce((a, x) => a + x, 0); return clampIndex(searchsorted(cumsum(sq).map((x) => x / total), param * param) + 1) }
  }
}

function newRankOf(m: LoraModule, s: readonly number[], o: ResizeOptions): number {
  const isConv = m.downShape.length === 4
  const cap = (isConv ? o.convRank ?? o.rank : o.rank) ?? m.rank
  const wanted = o.dynamic ? dynamicIndex(o.dynamic.method, s, Math.min(m.out, m.inner), o.dynamic.param) + 1 : cap
  if (s[0] <= MIN_SV) return 1
  return Math.min(wanted, cap, m.rank)
}

async function resizeModule(m: LoraModule, o: ResizeOptions): Promise<{ module: LoraModule; layer: ResizedLayer }> {
  const svd = await factorSvd(m.up, m.down, { m: m.out, r: m.rank, n: m.inner, k: m.rank }, o.matmul)
  const s = [...svd.s]
  const k = newRankOf(m, s, o)
  const up = new Float32Array(m.out * k)
  for (let i = 0; i < m.out; i++) for (let j = 0; j < k; j++) up[i * k + j] = svd.u[i * svd.k + j] * s[j]
  const down = svd.vt.slice(0, k * m.inner)
  const scale = m.alpha / m.rank
  const sq = s.map((x) => x * x)
  const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + Math.abs(x), 0)
  const layer: ResizedLayer = {
    module: m.name, oldRank: m.rank, newRank: k, alpha: scale * k,
    froRetained: Math.sqrt(sum(sq.slice(0, k)) / (sum(sq) || 1)), sumRetained: sum(s.slice(0, k)) / (sum(s) || 1),
  }
  return { module: { ...m, up, down, rank: k, alpha: scale * k, downShape: [k, ...m.downShape.slice(1)] }, layer }
}

function checkOptions(o: ResizeOptions): void {
  for (const [flag, v] of [['--rank', o.rank], ['--conv-rank', o.convRank]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new InputError(`${flag}: expected a positive integer, got ${v}`)
  }
  if (!o.dynamic && o.rank === undefined) throw new InputError('lora resize: give --rank R, or --dynamic METHOD --param X (with --rank as an optional cap)')
  if (o.dynamic && !(o.dynamic.param > 0)) throw new InputError(`--param: expected a positive number, got ${o.dynamic.param}`)
  if (o.dynamic && o.dynamic.method !== 'sv_ratio' && o.dynamic.param > 1) throw new InputError(`--param: ${o.dynamic.method} takes a fraction in (0, 1], got ${o.dynamic.param}`)
}

export async function resizeLora(input: string, output: string, o: ResizeOptions): Promise<ResizeReport> {
  checkOptions(o)
  if (resolve(input) === resolve(output)) throw new InputError(`lora resize: the output ${output} is the input; write to a new path`)
  const lora = await readLoraFile(input)
  const modules: LoraModule[] = []
  const layers: ResizedLayer[] = []
  for (const [i, m] of lora.modules.entries()) {
    o.onProgress?.(i, lora.modules.length)
    const r = await resizeModule(m, o)
    modules.push(r.module)
    layers.push(r.layer)
  }
  o.onProgress?.(lora.modules.length, lora.modules.length)
  const oldDim = Math.max(...lora.modules.map((m) => m.rank))
  const dyn = o.dynamic ? `dynamically resized with ${o.dynamic.method} ${o.dynamic.param} from ${oldDim}` : `dimension is resized from ${oldDim} to ${o.rank}`
  const alphas = [...new Set(layers.map((l) => l.alpha))]
  await writeLoraFile(output, modules, {
    dtype: o.dtype ?? lora.dtype,
    metadata: kohyaMetadata({
      base: lora.metadata,
      dim: o.dynamic ? 'Dynamic' : String(o.rank),
      alpha: o.dynamic || alphas.length !== 1 ? 'Dynamic' : String(alphas[0]),
      ...(o.convRank ? { convDim: String(o.convRank) } : {}),
      comment: `${dyn} by sdloom; ${lora.metadata.ss_training_comment ?? ''}`,
    }),
  })
  const meanFroRetained = layers.reduce((a, l) => a + l.froRetained, 0) / Math.max(1, layers.length)
  return { input: basename(input), output, layers, meanFroRetained }
}
