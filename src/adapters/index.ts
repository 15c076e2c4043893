/**
 * Registry of adapter algorithms, in A1111's `module_types` order (networks.py): the first that claims a module's
 * parts handles it.
 */
import { boft } from './algorithms/boft.ts'
import { full } from './algorithms/full.ts'
import { glora } from './algorithms/glora.ts'
import { ia3 } from './algorithms/ia3.ts'
import { loha } from './algorithms/loha.ts'
import { lokr } from './algorithms/lokr.ts'
import { lora } from './algorithms/lora.ts'
import { norm } from './algorithms/norm.ts'
import { oft } from './algorithms/oft.ts'
import type { AdapterAlgorithm } from './types.ts'

export const ALGORITHMS = { lora, loha, ia3, oft, boft, lokr, full, norm, glora } as const satisfies Record<string, AdapterAlgorithm>
export type AlgorithmName = keyof typeof ALGORITHMS

export function algorithmFor(parts: ReadonlyMap<string, unknown>): AdapterAlgorithm | undefined {
  return Object.values(ALGORITHMS).find((a) => a.claims(parts as ReadonlyMap<string, never>))
}
