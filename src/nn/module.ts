/*
 * Network modules are plain object trees whose property paths ARE the checkpoint keys (style.md §2.2).
 * `Param` leaves carry shapes; arrays give numeric key segments; `NONE` holds the index of a parameter-free layer.
 * `bind` turns a tree into graph inputs named by checkpoint key, checking every key and shape in one pass.
 */
import type { Graph, Value } from '../graph/builder.ts'
import { scaleInputName } from '../graph/int8-weights.ts'
import * as op from '../graph/ops.ts'
import { MissingKeysError, ShapeMismatchError } from '../core/errors.ts'
import { shapeEquals } from '../core/host-tensor.ts'

export interface Param { readonly kind: 'param'; readonly shape: readonly number[] }
export interface NoParams { readonly kind: 'none' }

export const param = (...shape: number[]): Param => ({ kind: 'param', shape })
export const NONE: NoParams = { kind: 'none' }

export type Tree = Param | NoParams | readonly Tree[] | { readonly [k: string]: Tree }

export type Bound<T> = T extends Param ? Value
  : T extends NoParams ? NoParams
  : { readonly [K in keyof T]: Bound<T[K]> }

const isLeaf = (t: Tree): t is Param | NoParams =>
  typeof t === 'object' && t !== null && !Array.isArray(t) && ((t as Param).kind === 'param' || (t as NoParams).kind === 'none')

/** Every (key, shape) of a tree, keys joined with '.' under `prefix`. */
export function paramKeys(tree: Tree, prefix = ''): { key: string; shape: readonly number[] }[] {
  const out: { key: string; shape: readonly number[] }[] = []
  const walk = (t: Tree, path: string): void => {
    if (isLeaf(t)) { if (t.kind === 'param') out.push({ key: path, shape: t.shape }); return }
    const entries = Array.isArray(t) ? t.map((v, i) => [String(i), v] as const) : Object.entries(t)
    for (const [k, v] of entries) walk(v as Tree, path ? `${path}.${k}` : k)
  }
  walk(tree, prefix.replace(/\.$/, ''))
  return out
}

/** What bind needs to know of a weight store: which keys exist and their shapes. */
export interface ShapeSource {
  readonly file: string
  has(key: string): boolean
  shape(key: string): readonly number[]
  /** True where the weight is held as int8 codes + per-channel scales (graph/int8-weights.ts). */
  isInt8?(key: string): boolean
  /** True where the weight is fed as float16 (kept at its stored width), cast to float32 where it is used. */
  isF16?(key: string): boolean
}

/**
 * Declares one graph input per parameter, named by its checkpoint key, after checking that every key is present
 * with exactly the declared shape. Missing keys are reported together; the first shape mismatch is an error.
 */
export function bind<T extends Tree>(g: Graph, tree: T, source: ShapeSource, prefix: string, hint = ''): Bound<T> {
  const keys = paramKeys(tree, prefix)
  const missing = keys.filter((k) => !source.has(k.key)).map((k) => k.key)
  if (missing.length > 0) throw new MissingKeysError(source.file, missing, hint)
  for (const k of keys) {
    const found = source.shape(k.key)
    if (!shapeEquals(found, k.shape)) throw new ShapeMismatchError(source.file, k.key, k.shape, found)
  }
  const inputs = new Map(keys.map((k) => [k.key, weightInput(g, source, k.key, k.shape)]))
  const build = (t: Tree, path: string): unknown => {
    if (isLeaf(t)) return t.kind === 'param' ? inputs.get(path) : t
    // An empty prefix (TAESD's bare Sequential indices, `1.weight`) must not give keys a leading '.'.
    const join = (k: string | number) => (path ? `${path}.${k}` : String(k))
    if (Array.isArray(t)) return t.map((v, i) => build(v, join(i)))
    return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, build(v as Tree, join(k))]))
  }
  return build(tree, prefix.replace(/\.$/, '')) as Bound<T>
}

/** A weight's graph input: float32 as stored, or int8 codes + scales / float16 widened where the weight is used. */
function weightInput(g: Graph, source: ShapeSource, key: string, shape: readonly number[]): Value {
  if (source.isInt8?.(key)) return op.dequantizeLinear(g, g.input(key, 'int8', shape), g.input(scaleInputName(key), 'float32', [shape[0]]), 0)
  if (source.isF16?.(key)) return op.widenWeight(g, g.input(key, 'float16', shape))
  return g.input(key, 'float32', shape)
}

/** `bind` that also records the keys it bound, for networks made of several separately bound parts. */
export function keyedBinder(g: Graph, src: ShapeSource, hint: string) {
  const keys: string[] = []
  return {
    keys,
    bind<T extends Tree>(tree: T, prefix: string): Bound<T> {
      keys.push(...paramKeys(tree, prefix).map((k) => k.key))
      return bind(g, tree, src, prefix, hint)
    },
  }
}
