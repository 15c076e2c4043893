/**
 * A VAE to bake into a merged checkpoint (A1111 "Bake in VAE"): each tensor of the VAE file replaces
 * `first_stage_model.<key>` of model A. Standalone VAE files (`encoder.…`, `decoder.…`) and checkpoints (whose VAE
 * already sits under `first_stage_model.`) are both accepted; a VAE that fits none of A's keys, or a tensor of another
 * shape, is an error rather than a silent no-op.
 */
import { basename } from 'node:path'
import { InputError, ShapeMismatchError } from '../core/errors.ts'
import { isFloatDType } from '../core/dtype.ts'
import { shapeEquals } from '../core/host-tensor.ts'
import { openTensorFile } from '../formats/open.ts'
import type { TensorSource } from '../formats/tensor-source.ts'

const VAE_PREFIX = 'first_stage_model.'

export interface BakedVae {
  readonly source: TensorSource
  /** True when the checkpoint key (`first_stage_model.…`) comes from the VAE file. */
  has(key: string): boolean
  read(key: string): Promise<Float32Array>
}

export async function openVae(file: string, a: TensorSource): Promise<BakedVae> {
  const source = await openTensorFile(file)
  try {
    const map = new Map<string, string>()
    for (const k of source.keys()) {
      if (k.startsWith('loss') || !isFloatDType(source.info(k).dtype)) continue
      const target = k.startsWith(VAE_PREFIX) ? k : `${VAE_PREFIX}${k}`
      if (!a.has(target)) continue
      const want = a.info(target).shape
      if (!shapeEquals(want, source.info(k).shape)) throw new ShapeMismatchError(file, k, want, source.info(k).shape, `model A's "${target}" has this shape; is this VAE for another architecture?`)
      map.set(target, k)
    }
    if (map.size === 0) throw new InputError(`--vae ${basename(file)}: none of its tensors is a VAE tensor of model A (expected keys like "decoder.conv_in.weight" or "${VAE_PREFIX}decoder.conv_in.weight")`)
    return { source, has: (key) => map.has(key), read: (key) => source.readF32(map.get(key)!) }
  } catch (e) {
    await source.close()
    throw e
  }
}
