/** Helpers shared by the algorithm files (A1111 `network.NetworkModule` behaviour). */
import type { HostTensor } from '../../core/host-tensor.ts'
import { numel, shapeString } from '../../core/host-tensor.ts'
import type { AdapterModule } from '../types.ts'

/** A part that the algorithm's `claims` guaranteed to be present. */
export function part(module: AdapterModule, name: string): HostTensor {
  const t = module.parts.get(name)
  if (!t) throw new Error(`adapter module ${module.name}: part "${name}" missing (claims() should have refused it)`)
  return t
}

/** A1111 `calc_scale`: the `scale` part if present, else alpha / dim when both are known, else 1. */
export function moduleScale(module: AdapterModule, dim: number | undefined): number {
  const scale = module.parts.get('scale')
  if (scale) return scale.data[0]
  const alpha = module.parts.get('alpha')
  return dim !== undefined && alpha ? alpha.data[0] / dim : 1
}

/** `out × inner` must tile the layer: A1111 reshapes a delta whose element count equals the weight's. */
export function checkOutInner(what: string, out: number, inner: number, shape: readonly number[]): string | undefined {
  if (out === shape[0] && out * inner === numel(shape)) return undefined
  return `${what} gives a [${out}, ${inner}] update, the layer is ${shapeString(shape)}`
}

export const hasAll = (parts: ReadonlyMap<string, unknown>, names: readonly string[]): boolean => names.every((n) => parts.has(n))

export const describe = (module: AdapterModule, name: string): string => `${name} ${shapeString(part(module, name).shape)}`
