/**
 * `mergeLoras`: several LoRAs, each with a weight, into one (kohya's `networks/merge_lora.py --concat` and
 * `svd_merge_lora.py`). Per module name, over every input that has it:
 *   concat  up = [w₁·s₁·up₁ | w₂·s₂·up₂ | …], down = [down₁; down₂; …], alpha = Σ rᵢ (scale 1): exactly
 *           Σ wᵢ·sᵢ·upᵢ·downᵢ, at rank Σ rᵢ (sᵢ = alphaᵢ / rᵢ);
 *   svd     the same sum, then its exact SVD (svd.ts `factorSvd`, never forming the full matrix) truncated to --rank
 *           (conv modules: --conv-rank), up = U·S, down = Vᵀ, alpha = new rank.
 * Modules must agree in shape across inputs; a module only some inputs have is taken from those.
 */
import { basename, resolve } from 'node:path'
import { InputError } from '../core/errors.ts'
import { shapeEquals } from '../core/host-tensor.ts'
import type { MatmulBackend } from '../adapters/types.ts'
import { kohyaMetadata, readLoraFile, sameFamily, writeLoraFile, type LoraFile, type LoraModule } from './lora-file.ts'
import { factorSvd } from './svd.ts'
import type { TargetDType } from './convert.ts'

export interface WeightedLora {
  readonly file: string
  readonly weight: number
}

export interface LoraMergeOptions {
  /** Without a rank the ranks are concatenated; with one, the sum is reduced to it by SVD. */
  readonly rank?: number
  readonly convRank?: number
  readonly dtype?: TargetDType
  readonly matmul?: MatmulBackend
  readonly onProgress?: (done: number, total: number) => void
}

export interface LoraMergeReport {
  readonly output: string
  readonly inputs: readonly { readonly file: string; readonly weight: number; readonly modules: number }[]
  readonly mode: 'concat' | 'svd'
  readonly modules: number
  readonly ranks: readonly { readonly value: number; readonly count: number }[]
}

interface Term { readonly m: LoraModule; readonly weight: number; readonly file: string }

/** Σ wᵢ·sᵢ·upᵢ·downᵢ as one low-rank module of rank Σ rᵢ. */
function concatenate(name: string, terms: readonly Term[]): LoraModule {
  const first = terms[0].m
  for (const t of terms) {
    if (t.m.out !== first.out || !shapeEquals(t.m.downShape.slice(1), first.downShape.slice(1))) {
      throw new InputError(`lora merge: module ${name} has shape [${t.m.out}, ${t.m.downShape.slice(1).join(', ')}] in ${basename(t.file)} but `
        + `[${first.out}, ${first.downShape.slice(1).join(', ')}] in ${basename(terms[0].file)}: these LoRAs are for different models`)
    }
  }
  const rank = terms.reduce((a, t) => a + t.m.rank, 0)
  const up = new Float32Array(first.out * rank)
  const down = new Float32Array(rank * first.inner)
  let col = 0
  for (const { m, weight } of terms) {
    const s = weight * (m.alpha / m.rank)
    for (let i = 0; i < m.out; i++) for (let j = 0; j < m.rank; j++) up[i * rank + col + j] = s * m.up[i * m.rank + j]
    down.set(m.down, col * first.inner)
    col += m.rank
  }
  return { name, up, down, out: first.out, rank, inner: first.inner, alpha: rank, downShape: [rank, ...first.downShape.slice(1)] }
}

async function reduce(m: LoraModule, rank: number, mm: MatmulBackend | undefined): Promise<LoraModule> {
  const svd = await factorSvd(m.up, m.down, { m: m.out, r: m.rank, n: m.inner, k: rank }, mm)
  const k = svd.k
  const up = Float32Array.from(svd.u, (v, i) => v * svd.s[i % k])
  return { ...m, up, down: svd.vt, rank: k, alpha: k, downShape: [k, ...m.downShape.slice(1)] }
}

function histogram(values: readonly number[]): { value: number; count: number }[] {
  const c = new Map<number, number>()
  for (const v of values) c.set(v, (c.get(v) ?? 0) + 1)
  return [...c].sort((a, b) => a[0] - b[0]).map(([value, count]) => ({ value, count }))
}

export async function mergeLoras(inputs: readonly WeightedLora[], output: string, o: LoraMergeOptions = {}): Promise<LoraMergeReport> {
  if (inputs.length < 1) throw new InputError('lora merge: give at least one LoRA as FILE:WEIGHT')
  if (inputs.some((i) => resolve(i.file) === resolve(output))) throw new InputError(`lora merge: the output ${output} is one of the inputs; write to a new path`)
  for (const [flag, v] of [['--rank', o.rank], ['--conv-rank', o.convRank]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new InputError(`${flag}: expected a positive integer, got ${v}`)
  }
  const files: LoraFile[] = []
  for (const i of inputs) files.push(await readLoraFile(i.file))
  for (const f of files.slice(1)) {
    const first = files[0]
    if (!sameFamily(first.family, f.family)) {
      throw new InputError(`lora merge: ${basename(f.file)} is a LoRA for ${f.family.label} but ${basename(first.file)} is for ${first.family.label}; only LoRAs of one model family merge`)
    }
  }
  const byName = new Map<string, Term[]>()
  files.forEach((f, i) => { for (const m of f.modules) byName.set(m.name, [...(byName.get(m.name) ?? []), { m, weight: inputs[i].weight, file: f.file }]) })
  const modules: LoraModule[] = []
  let done = 0
  for (const [name, terms] of byName) {
    o.onProgress?.(done++, byName.size)
    const cat = concatenate(name, terms)
    const target = cat.downShape.length === 4 ? o.convRank ?? o.rank : o.rank
    modules.push(target === undefined ? cat : await reduce(cat, target, o.matmul))
  }
  o.onProgress?.(byName.size, byName.size)
  const ranks = histogram(modules.map((m) => m.rank))
  const dim = ranks.length === 1 ? String(ranks[0].value) : 'Dynamic'
  await writeLoraFile(output, modules, {
    dtype: o.dtype ?? files[0].dtype,
    metadata: kohyaMetadata({
      base: files[0].metadata, dim, alpha: dim,
      ...(o.convRank ? { convDim: String(o.convRank) } : {}),
      comment: `merged by sdloom from ${inputs.map((i) => `${basename(i.file)}:${i.weight}`).join(', ')}${o.rank ? ` (SVD to rank ${o.rank})` : ' (ranks concatenated)'}`,
    }),
  })
  return {
    output, mode: o.rank === undefined && o.convRank === undefined ? 'concat' : 'svd', modules: modules.length, ranks,
    inputs: inputs.map((i, n) => ({ file: i.file, weight: i.weight, modules: files[n].modules.length })),
  }
}
