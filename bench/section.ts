import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from '../test/golden.ts'

export interface BenchRow {
  readonly measure: string
  readonly value: string
  readonly note?: string
}

export interface BenchSection {
  readonly title: string
  run(): Promise<BenchRow[]>
}

/** Peak resident set size of this process so far, in MB (Linux VmHWM). */
export async function peakRssMb(): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile('/proc/self/status', 'utf8')
  const m = /VmHWM:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1e6
}

/** Current resident set size of this process, in MB. */
export const rssMb = (): number => process.memoryUsage().rss / 1e6

/** Deterministic values (xorshift32) in about [-scale, scale): random weights for the bench, the same every run. */
export function xorshiftFill(n: number, seed: number, scale = 1): Float32Array {
  const data = new Float32Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    data[i] = ((x >>> 0) / 2147483648 - 1) * scale
  }
  return data
}

/** Wall seconds and peak RSS (MB) of `sdloom ARGS` as a child process, via GNU time. */
export function sdloomChild(args: readonly string[], env: NodeJS.ProcessEnv): { wall: number; rssMb: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, '--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    { encoding: 'utf8', cwd: REPO_ROOT, env, maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`sdloom ${args.join(' ')} failed: ${r.stderr}`)
  const [wall, kb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number)
  return { wall, rssMb: kb / 1024 }
}
