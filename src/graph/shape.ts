import type { Dim } from './proto.ts'

let anonymous = 0
/** A fresh symbolic dim for sizes the builder cannot compute (e.g. a resize to another value's size). */
export const unknownDim = (hint = 'd'): string => `${hint}_${anonymous++}`

export const isKnown = (d: Dim): d is number => typeof d === 'number'

/** numpy-style broadcast of two shapes; undefined when they cannot broadcast. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  const n = Math.max(a.length, b.length)
  const out: Dim[] = []
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1
    const y = b[b.length - n + i] ?? 1
    if (x === 1) out.push(y)
    else if (y === 1 || x === y) out.push(x)
    else if (!isKnown(x) && isKnown(y)) out.push(y)
    else if (isKnown(x) && !isKnown(y)) out.push(x)
    else if (!isKnown(x) && !isKnown(y)) out.push(x)
    else return undefined
  }
  return out
}

export const dimsEqual = (x: Dim, y: Dim): boolean => x === y || !isKnown(x) || !isKnown(y)

export const fmtShape = (s: readonly Dim[]): string => `[${s.join(', ')}]`

export function product(dims: readonly Dim[]): Dim {
  let p = 1
  for (const d of dims) { if (!isKnown(d)) return unknownDim('n'); p *= d }
  return p
}

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis)
