/**
 * The values the pickle VM builds. Python maps to JS as: None → null, bool → boolean, int → number (bigint beyond
 * 2^53), float → number, str → string, bytes → Uint8Array, list → array, tuple → frozen array, dict/OrderedDict → Map,
 * set/frozenset → Set; allow-listed globals and the objects rebuilt from them get the classes below.
 */
import type { DType } from '../core/dtype.ts'

/** What an allow-listed global may do when the pickle calls it (REDUCE/INST/OBJ) or instantiates it (NEWOBJ). */
export interface CallContext {
  /** Throws a TensorFileError naming the file and pickle position. */
  fail(detail: string): never
}

export type GlobalBehaviour =
  | { readonly kind: 'value' }
  | { readonly kind: 'storage'; readonly dtype: DType }
  | { readonly kind: 'call'; readonly call: (args: readonly unknown[], ctx: CallContext) => unknown }
  | { readonly kind: 'class' }

/** A reference to an allow-listed Python global (a class, function or dtype object); never code. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string, readonly behaviour: GlobalBehaviour) {}
  get qualname(): string { return `${this.module}.${this.name}` }
}

/** An instance of an allow-listed class built by NEWOBJ (torch ParameterDict); BUILD stores its state. */
export class PyObject {
  state: unknown = null
  constructor(readonly cls: PyGlobal) {}
}

/**
 * One torch storage: `numel` elements of `dtype`, living in the checkpoint under `key`
 * (zip: `<archive>/data/<key>`; legacy: the storage list), or in memory (`bytes`, from a numpy array).
 */
export class TorchStorage {
  constructor(readonly dtype: DType, readonly key: string, readonly numel: number, readonly bytes?: Uint8Array) {}
}

/** A strided view of a storage, as `torch._utils._rebuild_tensor_v2` would build it. Offsets and strides in elements. */
export class TorchTensor {
  constructor(readonly storage: TorchStorage, readonly offset: number, readonly shape: readonly number[],
    readonly stride: readonly number[]) {}
}

/** `numpy.dtype`: the type code ('f4', 'i8', …) and byte order ('<', '>', '|', '='). */
export class NpDtype {
  byteorder = '<'
  constructor(readonly code: string) {}
}

/** `numpy.ndarray` rebuilt by `_reconstruct` + BUILD: raw bytes, or a list for object arrays. */
export class NpArray {
  shape: readonly number[] = []
  dtype: NpDtype | undefined
  fortranOrder = false
  data: Uint8Array | readonly unknown[] = new Uint8Array(0)
}

export const isTuple = (v: unknown): v is readonly unknown[] => Array.isArray(v) && Object.isFrozen(v)

/** Attributes BUILD gives a dict (OrderedDict's `_metadata`); kept aside, never mixed into the items. */
export const dictAttributes = new WeakMap<Map<unknown, unknown>, unknown>()

/** A short Python-ish type name for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None'
  if (v instanceof PyGlobal) return `global ${v.qualname}`
  if (v instanceof Map) return 'dict'
  if (isTuple(v)) return 'tuple'
  if (Array.isArray(v)) return 'list'
  if (v instanceof TorchTensor) return 'tensor'
  if (v instanceof Uint8Array) return 'bytes'
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v
}

