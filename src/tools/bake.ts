/**
 * `bakeAdapters`: a checkpoint with adapters merged in, with exactly the engine's merge math: the adapter layer's
 * PatchSet plans every adapter (any kind it supports: LoRA/LoCon, LoHa, LoKr, IA3, OFT/BOFT, full, norm, GLoRA,
 * DoRA) and merges it with `mergeIntoBase` (W += Σ fround(m·delta), float32, in list order), the call a one-shot
 * `sdloom generate` makes. Only the tensors some adapter touches are read into memory; every other tensor is copied
 * from the checkpoint as the writer reaches it.
 */
import { basename, resolve } from 'node:path'
import { InputError, TensorFileError } from '../core/errors.ts'
import { isFloatDType } from '../core/dtype.ts'
import { openTensorFile } from '../formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../formats/safetensors-writer.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { PatchSet, type AdapterReport, type PatchEntry } from '../adapters/patch-set.ts'
import type { BaseWeights, MatmulBackend } from '../adapters/types.ts'
import { checkpointFamily, requireArch } from './model-arch.ts'
import { targetDType, type TargetDType } from './convert.ts'

export interface BakeAdapter {
  readonly file: string
  /** Multiplier for text-encoder layers. */
  readonly te: number
  readonly unet: number
}

export interface BakeOptions {
  readonly dtype?: TargetDType
  /** Unmatched keys or skipped modules are an error instead of a report. */
  readonly strict?: boolean
  readonly matmul?: MatmulBackend
  /** Layers merged so far of the total (a progress bar). */
  readonly onProgress?: (done: number, total: number) => void
}

export interface BakeReport {
  readonly checkpoint: string
  readonly output: string
  readonly architecture: string
  readonly tensorsChanged: number
  readonly adapters: readonly AdapterReport[]
}

/**
 * Base weights read from the file's header: shapes for planning, values only for the keys loaded beforehand (the
 * ones the adapters touch). The merge writes into those arrays.
 */
class TouchedWeights implements BaseWeights {
  readonly loaded = new Map<string, Float32Array>()
  constructor(private readonly source: TensorSource) {}
  has(key: string): boolean { return this.source.has(key) && isFloatDType(this.source.info(key).dtype) }
  shape(key: string): readonly number[] { return this.source.info(key).shape }
  get(key: string): Float32Array {
    const v = this.loaded.get(key)
    if (!v) throw new TensorFileError(this.source.file, key, 'internal: read before it was loaded for the merge')
    return v
  }
  /** The merged values, dropped from this map once the writer has them. */
  release(key: string): Float32Array {
    const v = this.get(key)
    this.loaded.delete(key)
    return v
  }
  async load(keys: Iterable<string>): Promise<void> {
    for (const k of keys) if (!this.loaded.has(k)) this.loaded.set(k, await this.source.readF32(k))
  }
}

export async function bakeAdapters(checkpoint: string, adapters: readonly BakeAdapter[], output: string, o: BakeOptions = {}): Promise<BakeReport> {
  if (adapters.length === 0) throw new InputError('bake: give at least one --lora FILE[:WEIGHT]')
  if ([checkpoint, ...adapters.map((a) => a.file)].some((f) => resolve(f) === resolve(output))) throw new InputError(`bake: the output ${output} is one of the inputs; write to a new path`)
  const source = await openTensorFile(checkpoint)
  try {
    const model = checkpointFamily(source, 'checkpoint')
    const arch = requireArch(model)
    const base = new TouchedWeights(source)
    const set = new PatchSet(base, arch, { strict: o.strict, matmul: o.matmul })
    const entries: PatchEntry[] = []
    for (const a of adapters) entries.push({ adapter: await loadAdapter(a.file), te: a.te, unet: a.unet })
    for (const e of entries) {
      const plan = set.plan(e.adapter)
      await base.load(plan.modules.flatMap((m) => [m.target.key, ...(m.target.biasKey ? [m.target.biasKey] : [])]))
    }
    const result = await set.mergeIntoBase(entries, { onProgress: o.onProgress })
    const changed = new Set(result.changed)
    const tensors: WriteTensor[] = source.keys().map((key) => {
      const info = source.info(key)
      const kept = targetDType(key, info.dtype, o.dtype)
      const out: TargetDType = kept === 'F16' || kept === 'BF16' ? kept : 'F32'
      if (changed.has(key)) return { name: key, dtype: out, shape: info.shape, data: () => Promise.resolve(encodeF32As(out, base.release(key))) }
      if (kept === info.dtype) return { name: key, dtype: kept, shape: info.shape, data: () => source.readRaw(key) }
      return { name: key, dtype: out, shape: info.shape, data: async () => encodeF32As(out, await source.readF32(key)) }
    })
    const baked = adapters.map((a) => `${basename(a.file)}:${a.te === a.unet ? a.te : `${a.te}:${a.unet}`}`).join(', ')
    await writeSafetensors(output, tensors, { metadata: { ...source.metadata, sdloom_baked_adapters: baked } })
    return { checkpoint, output, architecture: model.label, tensorsChanged: changed.size, adapters: result.reports }
  } finally {
    await source.close()
  }
}
