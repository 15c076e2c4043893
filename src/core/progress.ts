/** A progress line for long work: "label  i/n  [####    ]  1.23 s/it  ETA 0:12", on stderr only when it is a TTY. */
export interface Progress {
  tick(done: number): void
  end(): void
}

export interface ProgressOptions {
  readonly label: string
  readonly total: number
  readonly stream?: NodeJS.WriteStream
  /** 'steps' shows s/it; 'bytes' shows MB/s. */
  readonly unit?: 'steps' | 'bytes'
  /** When the work began (default: now), so time spent before the first tick counts in s/it and ETA. */
  readonly start?: number
  readonly now?: () => number
}

const fmtTime = (s: number): string => {
  if (!Number.isFinite(s)) return '?'
  const m = Math.floor(s / 60)
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`
}

export function progressBar(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr
  const now = opts.now ?? (() => performance.now())
  const start = opts.start ?? now()
  const live = stream.isTTY === true
  const render = (done: number): string => {
    const el = (now() - start) / 1000
    const frac = opts.total > 0 ? Math.min(1, done / opts.total) : 0
    const bar = '#'.repeat(Math.round(frac * 20)).padEnd(20)
    const eta = done > 0 ? (el / done) * (opts.total - done) : Infinity
    const rate = opts.unit === 'bytes'
      ? `${(done / 1e6 / Math.max(el, 1e-9)).toFixed(1)} MB/s`
      : done > 0 ? `${(el / done).toFixed(2)} s/it` : '? s/it'
    const count = opts.unit === 'bytes' ? `${(done / 1e6).toFixed(0)}/${(opts.total / 1e6).toFixed(0)} MB` : `${done}/${opts.total}`
    return `${opts.label} ${count} [${bar}] ${rate} ETA ${fmtTime(eta)}`
  }
  let last = ''
  return {
    tick(done) { last = render(done); if (live) stream.write(`\r${last}\x1b[K`) },
    end() { if (live) stream.write('\n'); else if (last) stream.write(`${last}\n`) },
  }
}
