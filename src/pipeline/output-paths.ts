/*
 * Where generated images go:
 *  - a path ending in ".png" names the file of a single image; several images get "-1", "-2", … before ".png";
 *  - any other path is a folder (created if needed): `<5-digit counter>-<seed>.png`, the counter continuing after
 *    the highest number already leading a file name there, as A1111 (images.py get_next_sequence_number with its
 *    default "[seed]" file name pattern).
 */
import { mkdir, readdir } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'

export const DEFAULT_OUTPUT_DIR = 'outputs'

/** A1111 get_next_sequence_number: 1 + the largest leading number of the folder's file names (0 when none). */
export async function nextSequenceNumber(dir: string): Promise<number> {
  let names: string[]
  try { names = await readdir(dir) } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw e
  }
  let last = -1
  for (const n of names) {
    const m = /^(\d+)/.exec(n)
    if (m) last = Math.max(last, Number(m[1]))
  }
  return last + 1
}

/** The file of each image (seeds in run order); creates the folder. */
export async function outputPaths(out: string, seeds: readonly number[]): Promise<string[]> {
  if (extname(out).toLowerCase() === '.png') {
    await mkdir(dirname(out), { recursive: true })
    if (seeds.length === 1) return [out]
    const stem = out.slice(0, -4)
    return seeds.map((_, i) => `${stem}-${i + 1}.png`)
  }
  await mkdir(out, { recursive: true })
  const base = await nextSequenceNumber(out)
  return seeds.map((seed, i) => join(out, `${String(base + i).padStart(5, '0')}-${seed}.png`))
}
