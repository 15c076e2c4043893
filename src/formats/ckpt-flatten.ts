/*
 * Turns the object a checkpoint pickle builds into a flat state dict, the way A1111 reads one
 * (modules/sd_models.py get_state_dict_from_checkpoint @ c8a5322d): a top-level "state_dict" dict is unwrapped, and
 * nested dicts join their keys with '.'. Non-tensor leaves (str, int, float, bool) become metadata strings under their
 * dotted path (an A1111 embedding gives `name`, `step`, `string_to_token.*`). Beside an unwrapped state_dict only
 * those scalars are kept: its sibling tensors (optimizer state, EMA copies kept apart) are dropped, as A1111 drops them.
 * Lists and tuples are walked for tensors (segments 0, 1, …) but give no metadata: beside a state_dict they hold
 * optimizer bookkeeping (parameter indices), thousands of numbers that describe nothing about the model.
 * None, bytes, sets and opaque objects carry no weights and are skipped. Walks are depth-limited and cycle-safe.
 */
import { TensorFileError } from '../core/errors.ts'
import { NpArray, PyGlobal, PyObject, TorchTensor, describe } from './pickle-types.ts'
import { tensorFromNumpy } from './pickle-globals.ts'

export interface FlatCheckpoint {
  readonly tensors: Map<string, TorchTensor>
  readonly metadata: Record<string, string>
}

const MAX_DEPTH = 64

function keyString(k: unknown): string | undefined {
  if (typeof k === 'string') return k
  if (typeof k === 'number' || typeof k === 'bigint') return String(k)
  if (typeof k === 'boolean') return k ? 'True' : 'False'
  if (k instanceof PyGlobal) return k.qualname
  return undefined
}

function scalarString(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'bigint') return String(v)
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  return undefined
}

/** The children of a container as [segment, value] pairs; undefined for leaves. */
function children(v: unknown): [string, unknown][] | undefined {
  if (v instanceof Map) {
    const out: [string, unknown][] = []
    for (const [k, x] of v) { const s = keyString(k); if (s !== undefined) out.push([s, x]) }
    return out
  }
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x])
  if (v instanceof PyObject && v.cls.name === 'ParameterDict') {
    const params = v.state instanceof Map ? v.state.get('_parameters') : undefined
    return params instanceof Map ? children(params) : []
  }
  return undefined
}

interface Walk { readonly file: string; readonly out: FlatCheckpoint; readonly keepTensors: boolean; readonly path: Set<unknown>; inList: boolean }

function add(w: Walk, key: string, v: unknown): void {
  if (v instanceof NpArray && v.data instanceof Uint8Array) v = tensorFromNumpy(v, { fail: (d) => { throw new TensorFileError(w.file, key, d) } })
  if (v instanceof TorchTensor) {
    if (!w.keepTensors) return
    if (w.out.tensors.has(key)) throw new TensorFileError(w.file, key, 'the key occurs twice after flattening nested dicts')
    w.out.tensors.set(key, v)
    return
  }
  const s = w.inList ? undefined : scalarString(v)
  if (s !== undefined) w.out.metadata[key] = s
}

function walk(w: Walk, v: unknown, prefix: string, depth: number): void {
  const kids = children(v)
  if (!kids) { add(w, prefix, v); return }
  if (depth > MAX_DEPTH) throw new TensorFileError(w.file, prefix, `nested more than ${MAX_DEPTH} levels deep; not a state dict`)
  if (w.path.has(v)) throw new TensorFileError(w.file, prefix, 'contains itself (a reference cycle); not a state dict')
  w.path.add(v)
  const wasInList = w.inList
  w.inList ||= Array.isArray(v)
  for (const [seg, x] of kids) walk(w, x, prefix ? `${prefix}.${seg}` : seg, depth + 1)
  w.inList = wasInList
  w.path.delete(v)
}

export function flattenCheckpoint(file: string, root: unknown): FlatCheckpoint {
  const out: FlatCheckpoint = { tensors: new Map(), metadata: Object.create(null) as Record<string, string> }
  if (!(root instanceof Map) && !(root instanceof PyObject && children(root))) {
    throw new TensorFileError(file, undefined, `the pickle holds a ${describe(root)}, expected a dict of tensors (a state dict)`)
  }
  const inner = root instanceof Map ? root.get('state_dict') : undefined
  if (inner instanceof Map) {
    walk({ file, out, keepTensors: true, path: new Set([root]), inList: false }, inner, '', 1)
    for (const [seg, x] of children(root) ?? []) if (seg !== 'state_dict') walk({ file, out, keepTensors: false, path: new Set([root]), inList: false }, x, seg, 1)
  } else {
    walk({ file, out, keepTensors: true, path: new Set(), inList: false }, root, '', 0)
  }
  return out
}
