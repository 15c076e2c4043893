/** A BaseWeights held in memory (tests, tools): every tensor read once as float32. */
import type { HostTensor } from '../core/host-tensor.ts'
import { TensorFileError } from '../core/errors.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { openTensorFile } from '../formats/open.ts'
import { isFloatDType } from '../core/dtype.ts'
import type { BaseWeights } from './types.ts'

export class MemoryBaseWeights implements BaseWeights {
  constructor(readonly file: string, readonly tensors: ReadonlyMap<string, HostTensor>) {}
  has(key: string): boolean { return this.tensors.has(key) }
  shape(key: string): readonly number[] { return this.#tensor(key).shape }
  get(key: string): Float32Array { return this.#tensor(key).data }
  keys(): IterableIterator<string> { return this.tensors.keys() }
  #tensor(key: string): HostTensor {
    const t = this.tensors.get(key)
    if (!t) throw new TensorFileError(this.file, key, 'no such tensor in the base model')
    return t
  }
}

/** Reads a whole checkpoint (only float tensors) into memory. */
export async function loadBaseWeights(file: string, open: (f: string) => Promise<TensorSource> = openTensorFile): Promise<MemoryBaseWeights> {
  const source = await open(file)
  try {
    const tensors = new Map<string, HostTensor>()
    for (const key of source.keys()) {
      const info = source.info(key)
      if (!isFloatDType(info.dtype)) continue
      tensors.set(key, { shape: [...info.shape], data: await source.readF32(key) })
    }
    return new MemoryBaseWeights(file, tensors)
  } finally {
    await source.close()
  }
}
