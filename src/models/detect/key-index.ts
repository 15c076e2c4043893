import type { TensorInfo, TensorSource } from '../../formats/tensor-source.ts'

/** What detection may look at: names, dtypes, shapes and metadata. Never tensor data. */
export type TensorIndex = Pick<TensorSource, 'file' | 'format' | 'metadata' | 'keys' | 'has' | 'info'>

/** A value measured from the file, with the tensor it came from (for reports and error messages). */
export interface Measured<T> {
  readonly value: T
  readonly from: string
}

/**
 * Key lookups for detection: O(1) `has` and `hasPrefix` over ~1–3k keys, built once per file.
 * Prefixes are whole dotted segments ("input_blocks.1." matches "input_blocks.1.0.weight", not "input_blocks.10.").
 */
export class KeyIndex {
  readonly keys: readonly string[]
  private readonly keySet: ReadonlySet<string>
  private readonly prefixes = new Set<string>()

  constructor(readonly source: TensorIndex) {
    this.keys = source.keys()
    this.keySet = new Set(this.keys)
    for (const k of this.keys) {
      for (let i = k.indexOf('.'); i !== -1; i = k.indexOf('.', i + 1)) this.prefixes.add(k.slice(0, i + 1))
    }
  }

  has(key: string): boolean { return this.keySet.has(key) }
  hasPrefix(prefix: string): boolean { return this.prefixes.has(prefix) }
  shape(key: string): readonly number[] | undefined { return this.keySet.has(key) ? this.source.info(key).shape : undefined }
  info(key: string): TensorInfo { return this.source.info(key) }

  /** `dim` of the tensor's shape, with its source, or undefined when the key is absent. */
  dim(key: string, dim: number): Measured<number> | undefined {
    const s = this.shape(key)
    return s !== undefined && dim < s.length ? { value: s[dim], from: key } : undefined
  }

  /** How many consecutive indices i = 0, 1, … have keys under `template` with {i} replaced. */
  countIndexed(template: string): number {
    let n = 0
    while (this.hasPrefix(template.replace('{i}', String(n)))) n++
    return n
  }

  /** First key (in file order) that ends with `suffix` at a segment boundary. */
  findSuffix(suffix: string): string | undefined {
    return this.keys.find((k) => k === suffix || (k.endsWith(suffix) && k[k.length - suffix.length - 1] === '.'))
  }
}
