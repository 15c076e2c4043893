/**
 * `extractLora`: a LoRA from the difference of a fine-tuned checkpoint and its base, as kohya's
 * `networks/extract_lora_from_models.py` does it:
 *   for each targeted layer (lora-targets.ts): D = W_tuned − W_base, flattened to [out, in·kh·kw];
 *   r = min(rank, out, in) (conv_rank for ResBlock/sampler convs); D ≈ U S Vᵀ truncated to r;
 *   up = U·S, down = Vᵀ; both clamped to ±quantile(|…|, clamp_quantile) of their joint values;
 *   alpha = r, so scale = alpha / r = 1 and up·down is the delta itself.
 * Layers whose largest |difference| is ≤ min_diff are skipped (counted). Unlike kohya, which decides once for the
 * whole text encoder, the threshold is per layer; the default 0.01 is kohya's. open_clip attention projections are
 * kept whatever their difference: A1111 applies them only as a complete q/k/v/out set.
 * The SVD is svd.ts's randomized one on the onnxruntime GEMM (see docs/decisions.md). One layer of each model is in
 * memory at a time; the LoRA itself is kept until written.
 */
import { basename, resolve } from 'node:path'
import { InputError, ShapeMismatchError } from '../core/errors.ts'
import { shapeEquals } from '../core/host-tensor.ts'
import { openTensorFile } from '../formats/open.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import type { MatmulBackend } from '../adapters/types.ts'
import { checkpointFamily, checkSameFamily, requireArch } from './model-arch.ts'
import { extractTargets, type ExtractTarget } from './lora-targets.ts'
import { kohyaMetadata, writeLoraFile, type LoraModule } from './lora-file.ts'
import { randomizedSvd } from './svd.ts'
import type { TargetDType } from './convert.ts'

export interface ExtractOptions {
  readonly rank: number
  /** Rank of ResBlock / down- / upsampler convs; without it they are not extracted (kohya's conv_dim). */
  readonly convRank?: number
  /** Default 0.99; 1 disables clamping. */
  readonly clampQuantile?: number
  /** Default 0.01. */
  readonly minDiff?: number
  /** Default F16. */
  readonly dtype?: TargetDType
  readonly matmul?: MatmulBackend
  readonly onProgress?: (done: number, total: number) => void
}

export interface ExtractReport {
  readonly tuned: string
  readonly base: string
  readonly output: string
  readonly architecture: string
  readonly rank: number
  readonly convRank: number | null
  readonly modules: { readonly unet: number; readonly te1: number; readonly te2: number }
  /** Layers left out because their difference was at most minDiff. */
  readonly skipped: number
  readonly minDiff: number
}

/** torch.quantile (linear interpolation) of the values. */
export function quantile(values: Float32Array, q: number): number {
  const s = Float32Array.from(values).sort()
  const pos = q * (s.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, s.length - 1)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

/** Rows [start, end) of a row-major tensor with `cols` columns, minus the base's, and its largest |value|. */
function difference(t: Float32Array, b: Float32Array, rows: { start: number; end: number }, cols: number): { d: Float32Array; max: number } {
  const d = new Float32Array((rows.end - rows.start) * cols)
  let max = 0
  const off = rows.start * cols
  for (let i = 0; i < d.length; i++) {
    d[i] = t[off + i] - b[off + i]
    max = Math.max(max, Math.abs(d[i]))
  }
  return { d, max }
}

interface LayerCtx { readonly o: ExtractOptions; readonly minDiff: number; readonly clamp: number }

async function extractLayer(target: ExtractTarget, shape: readonly number[], t: Float32Array, b: Float32Array, ctx: LayerCtx): Promise<LoraModule | undefined> {
  const inner = t.length / shape[0]
  const rows = target.rows ?? { start: 0, end: shape[0] }
  const { d, max } = difference(t, b, rows, inner)
  if (max <= ctx.minDiff && !target.mha) return undefined
  const out = rows.end - rows.start
  const want = target.rankKind === 'conv' ? ctx.o.convRank! : ctx.o.rank
  const r = Math.min(want, out, shape[1])
  const svd = await randomizedSvd(d, out, inner, r, { matmul: ctx.o.matmul })
  const k = svd.k
  const up = new Float32Array(out * k)
  for (let i = 0; i < out; i++) for (let j = 0; j < k; j++) up[i * k + j] = svd.u[i * k + j] * svd.s[j]
  const down = svd.vt
  if (ctx.clamp < 1) {
    const all = new Float32Array(up.length + down.length)
    all.set(up)
    all.set(down, up.length)
    const hi = quantile(all, ctx.clamp)
    for (const a of [up, down]) for (let i = 0; i < a.length; i++) a[i] = Math.min(hi, Math.max(-hi, a[i]))
  }
  const downShape = shape.length === 4 ? [k, shape[1], shape[2], shape[3]] : [k, inner]
  return { name: target.name, up, down, out, rank: k, inner, alpha: k, downShape }
}

function checkOptions(o: ExtractOptions): void {
  const positiveInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0)
  if (!positiveInt(o.rank)) throw new InputError(`--rank: expected a positive integer, got ${o.rank}`)
  if (!positiveInt(o.convRank)) throw new InputError(`--conv-rank: expected a positive integer, got ${o.convRank}`)
  const q = o.clampQuantile
  if (q !== undefined && !(q > 0 && q <= 1)) throw new InputError(`--clamp-quantile: expected a number in (0, 1], got ${q}`)
  if (o.minDiff !== undefined && !(o.minDiff >= 0)) throw new InputError(`--min-diff: expected a number ≥ 0, got ${o.minDiff}`)
}

export async function extractLora(tunedFile: string, baseFile: string, output: string, o: ExtractOptions): Promise<ExtractReport> {
  checkOptions(o)
  if ([tunedFile, baseFile].some((f) => resolve(f) === resolve(output))) throw new InputError(`lora extract: the output ${output} is one of the inputs; write to a new path`)
  const tuned = await openTensorFile(tunedFile)
  let base: TensorSource | undefined
  try {
    base = await openTensorFile(baseFile)
    const models = [checkpointFamily(tuned, 'tuned model'), checkpointFamily(base, 'base model')]
    checkSameFamily(models)
    const arch = requireArch(models[0])
    const targets = extractTargets(tuned.keys(), (k) => tuned.info(k).shape, arch, { conv: o.convRank !== undefined })
    const ctx: LayerCtx = { o, minDiff: o.minDiff ?? 0.01, clamp: o.clampQuantile ?? 0.99 }
    const modules: LoraModule[] = []
    const counts = { unet: 0, te1: 0, te2: 0 }
    let skipped = 0
    let done = 0
    for (const group of groupByKey(targets)) {
      o.onProgress?.(done, targets.length)
      done += group.length
      const key = group[0].key
      const shape = tuned.info(key).shape
      if (!base.has(key)) throw new ShapeMismatchError(base.file, key, shape, [], `the base model lacks this layer of ${basename(tuned.file)}`)
      if (!shapeEquals(base.info(key).shape, shape)) throw new ShapeMismatchError(base.file, key, shape, base.info(key).shape, `${basename(tuned.file)} has this shape; is this its base model?`)
      const [t, b] = [await tuned.readF32(key), await base.readF32(key)]
      for (const target of group) {
        const m = await extractLayer(target, shape, t, b, ctx)
        if (m) { modules.push(m); counts[target.component]++ } else skipped++
      }
    }
    o.onProgress?.(targets.length, targets.length)
    if (modules.length === 0) throw new InputError(`lora extract: no layer of ${basename(tunedFile)} differs from ${basename(baseFile)} by more than --min-diff ${ctx.minDiff}; nothing to extract`)
    const convDim = o.convRank === undefined ? undefined : String(o.convRank)
    await writeLoraFile(output, modules, {
      dtype: o.dtype ?? 'F16',
      metadata: {
        ...kohyaMetadata({ dim: String(o.rank), alpha: String(o.rank), convDim, comment: `extracted by sdloom from ${basename(tunedFile)} − ${basename(baseFile)}` }),
        ss_v2: String(arch === 'sd2' ? 'True' : 'False'),
        ss_base_model_version: { sd1: 'sd_v1', sd2: 'sd_v2', sdxl: 'sdxl_base_v1-0' }[arch],
        ss_sd_model_name: basename(baseFile),
      },
    })
    return { tuned: tunedFile, base: baseFile, output, architecture: models[0].label, rank: o.rank, convRank: o.convRank ?? null, modules: counts, skipped, minDiff: ctx.minDiff }
  } finally {
    await tuned.close()
    await base?.close()
  }
}

/** Targets grouped by checkpoint key (q/k/v of one in_proj_weight share a read). */
function groupByKey(targets: readonly ExtractTarget[]): ExtractTarget[][] {
  const groups = new Map<string, ExtractTarget[]>()
  for (const t of targets) groups.set(t.key, [...(groups.get(t.key) ?? []), t])
  return [...groups.values()]
}
