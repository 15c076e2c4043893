/** Shared helpers for tests that compare against ../shared/reference (loaded directly, never copied). */
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { readFileSync } from 'node:fs'
import { openSafetensors, type SafetensorsSource } from '../src/formats/safetensors.ts'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** `../shared/reference` next to the checkout (CI lays shared/ beside the clone). */
export const REFERENCE = join(REPO_ROOT, '..', 'shared', 'reference')
export const TOKENIZER_DIR = join(REPO_ROOT, '..', 'shared', 'tokenizer', 'clip')
export const ref = (...parts: string[]): string => join(REFERENCE, ...parts)
export const readRefJson = <T = any>(...parts: string[]): T => JSON.parse(readFileSync(ref(...parts), 'utf8')) as T

const opened = new Map<string, Promise<SafetensorsSource>>()
/** Opens a reference safetensors file once per process. */
export function refTensors(...parts: string[]): Promise<SafetensorsSource> {
  const p = ref(...parts)
  let s = opened.get(p)
  if (!s) { s = openSafetensors(p); opened.set(p, s) }
  return s
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i])
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d
  }
  return m
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]))
  return m
}

/** Asserts max |a - b| <= tol, with the worst difference in the message. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): void {
  const d = maxAbsDiff(actual, expected)
  assert.ok(d <= tol, `${what}: max abs diff ${d} exceeds ${tol}`)
}
