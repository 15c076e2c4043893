/**
 * Test-only: checkpoints derived from the reference tiny models, written to a temp folder. A "variant" is the source
 * with each float tensor changed by `edit` (default: seeded noise added), so tests can merge, diff and bake real
 * SD1/SD2/SDXL layouts without committing files.
 */
import { isFloatDType } from '../../core/dtype.ts'
import { openTensorFile } from '../../formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../../formats/safetensors-writer.ts'
import { randomTensor, rng } from '../../adapters/testing/reference-ops.ts'

export interface VariantOptions {
  readonly seed: number
  /** Noise amplitude added to every float tensor (default 0.01). */
  readonly scale?: number
  /** Replaces the default noise: the new float32 values of a tensor, or undefined to keep it. */
  readonly edit?: (key: string, data: Float32Array, shape: readonly number[]) => Float32Array | undefined
  readonly metadata?: Readonly<Record<string, string>>
}

export async function writeVariant(src: string, out: string, o: VariantOptions): Promise<void> {
  const s = await openTensorFile(src)
  try {
    const next = rng(o.seed)
    const noise = (key: string, data: Float32Array, shape: readonly number[]) => {
      const n = randomTensor(shape, next, o.scale ?? 0.01).data
      return data.map((v, i) => v + n[i])
    }
    const tensors: WriteTensor[] = []
    for (const key of s.keys()) {
      const info = s.info(key)
      if (!isFloatDType(info.dtype) || (info.dtype !== 'F32' && info.dtype !== 'F16')) { tensors.push({ name: key, ...info, data: await s.readRaw(key) }); continue }
      const data = await s.readF32(key)
      const changed = (o.edit ?? noise)(key, data, info.shape) ?? data
      tensors.push({ name: key, dtype: info.dtype, shape: info.shape, data: encodeF32As(info.dtype, changed) })
    }
    await writeSafetensors(out, tensors, { metadata: o.metadata ?? s.metadata })
  } finally {
    await s.close()
  }
}

/** Every tensor of a file as float32 (small test files only). */
export async function readAll(file: string): Promise<Map<string, { shape: readonly number[]; dtype: string; data: Float32Array }>> {
  const s = await openTensorFile(file)
  try {
    const out = new Map<string, { shape: readonly number[]; dtype: string; data: Float32Array }>()
    for (const k of s.keys()) out.set(k, { shape: s.info(k).shape, dtype: s.info(k).dtype, data: await s.readF32(k) })
    return out
  } finally {
    await s.close()
  }
}
