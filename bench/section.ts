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
