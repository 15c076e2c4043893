/** A float32 tensor in host memory, row-major. The engine computes in float32 only. */
export interface HostTensor {
  readonly shape: readonly number[]
  readonly data: Float32Array
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

export function hostTensor(shape: readonly number[], data?: Float32Array): HostTensor {
  const n = numel(shape)
  if (data && data.length !== n) throw new RangeError(`hostTensor: ${data.length} values for shape [${shape.join(', ')}]`)
  return { shape: [...shape], data: data ?? new Float32Array(n) }
}

export const shapeEquals = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

export const shapeString = (s: readonly number[]): string => `[${s.join(', ')}]`
