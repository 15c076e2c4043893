/*
 * What the bench needs to know of the machine while it measures: the CPU time other processes took (a shared
 * 2-core machine halves a 2-thread run's speed when another job runs), and peak RSS per phase.
 */
import { availableParallelism } from 'node:os'
import { readFile, writeFile } from 'node:fs/promises'
import { peakRssMb } from './section.ts'

export const THREADS = availableParallelism()

/** Busy CPU seconds of the whole machine so far (/proc/stat, in USER_HZ = 1/100 s). */
async function machineBusy(): Promise<number> {
  const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100
}

export interface Timed<T> {
  readonly value: T
  /** Wall seconds. */
  readonly s: number
  /** This process's CPU seconds per thread (robust to other jobs sharing the cores). */
  readonly cpu: number
  /** Cores this process kept busy on average (THREADS = all of them). */
  readonly cores: number
  /** Cores other processes kept busy on average meanwhile. */
  readonly others: number
}

export async function timed<T>(f: () => Promise<T>): Promise<Timed<T>> {
  const t = performance.now()
  const c0 = process.cpuUsage()
  const m0 = await machineBusy()
  const value = await f()
  const c = process.cpuUsage(c0)
  const s = (performance.now() - t) / 1000
  const mine = (c.user + c.system) / 1e6
  return { value, s, cpu: mine / THREADS, cores: mine / s, others: Math.max(0, (await machineBusy()) - m0 - mine) / s }
}

/** "1.98 cores (others 0.02)": the note that says whether a wall time was measured on a quiet machine. */
export const coresNote = (t: Timed<unknown>): string => `this process ${t.cores.toFixed(2)} cores, others ${t.others.toFixed(2)}`

/** Resets the process's peak RSS (Linux clear_refs 5), so the next peakRssMb() is the peak of what follows. */
export async function resetPeakRss(): Promise<void> {
  await writeFile('/proc/self/clear_refs', '5')
}

/** Current RSS, GiB. */
export async function rssGib(): Promise<string> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'))
  return `${(Number(m?.[1] ?? 0) / 1024 / 1024).toFixed(2)} GiB`
}

export const gib = async (): Promise<string> => {
  const mb = await peakRssMb()
  return `${(mb / 1024).toFixed(2)} GiB (${((mb * 1024 * 1024) / 1e9).toFixed(2)} GB)`
}
