/**
 * JobStore on SQLite (better-sqlite3, synchronous and transactional). Queue order is `queue_order`, which starts as
 * the insertion sequence `seq`; a move hands the queued jobs' existing order values out again in the new order, so
 * a later arrival (a higher seq) still lands last and a job requeued after a crash keeps its place.
 * The gallery pages by (created_at, rowid) and filters in SQL, so search and date range reach every image.
 */
import { randomUUID } from 'node:crypto'
import { InputError } from '../core/errors.ts'
import {
  JOB_STATES, JobNotFoundError, JobNotQueuedError, QueueFullError, type CancelOutcome, type EnqueueOptions, type JobError,
  type JobOutput, type JobRecord, type JobState, type JobStore, type MoveTarget, type OutputQuery, type PagedOutput,
} from './job-store.ts'
import type { SqliteDb } from './sqlite.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  payload TEXT NOT NULL,
  result TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS job_outputs (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  infotext TEXT NOT NULL,
  file TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS job_outputs_by_time ON job_outputs (created_at);
`

/** Databases made before the queue could be reordered get the column, filled with the arrival order. */
function addQueueOrder(db: SqliteDb): void {
  const cols = db.prepare(`PRAGMA table_info(jobs)`).all() as { name: string }[]
  if (!cols.some((c) => c.name === 'queue_order')) {
    db.exec(`ALTER TABLE jobs ADD COLUMN queue_order INTEGER; UPDATE jobs SET queue_order = seq`)
  }
  db.exec(`CREATE INDEX IF NOT EXISTS jobs_by_queue_order ON jobs (state, queue_order)`)
}

/** `cursor` = "<created_at>.<rowid>" of the last image shown: the next page is everything strictly older. */
function parseCursor(cursor: string): [number, number] {
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(cursor)
  if (!m) throw new InputError(`before: "${cursor.slice(0, 40)}" is not a gallery cursor. Hint: pass the \`cursor\` field of the last image of the previous page`)
  return [Number(m[1]), Number(m[2])]
}

/** LIKE pattern for a literal substring (\\ escapes the wildcards). */
const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

interface JobRow {
  id: string; kind: string; state: JobState; payload: string; result: string | null; error: string | null
  attempts: number; created_at: number; started_at: number | null; finished_at: number | null
}
interface OutputRow { job_id: string; idx: number; seed: number; infotext: string; file: string | null; created_at: number }
interface PagedRow extends OutputRow { rid: number }

const COLS = 'id, kind, state, payload, result, error, attempts, created_at, started_at, finished_at'

function toRecord(r: JobRow): JobRecord {
  return {
    id: r.id, kind: r.kind, state: r.state, payload: JSON.parse(r.payload) as unknown, attempts: r.attempts, createdAt: r.created_at,
    ...(r.result !== null ? { result: JSON.parse(r.result) as unknown } : {}),
    ...(r.error !== null ? { error: JSON.parse(r.error) as JobError } : {}),
    ...(r.started_at !== null ? { startedAt: r.started_at } : {}),
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
  }
}

const toOutput = (r: OutputRow): JobOutput => ({
  jobId: r.job_id, index: r.idx, seed: r.seed, infotext: r.infotext, createdAt: r.created_at, ...(r.file !== null ? { file: r.file } : {}),
})

export class SqliteJobStore implements JobStore {
  constructor(private readonly db: SqliteDb) {
    db.exec(SCHEMA)
    addQueueOrder(db)
  }

  async enqueue<P>(kind: string, payload: P, opts: EnqueueOptions = {}): Promise<JobRecord<P>> {
    const id = randomUUID()
    const now = Date.now()
    this.db.transaction(() => {
      if (opts.maxQueued !== undefined) {
        const { n } = this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE state = 'queued'`).get() as { n: number }
        if (n >= opts.maxQueued) throw new QueueFullError(opts.maxQueued)
      }
      const { lastInsertRowid } = this.db.prepare(`INSERT INTO jobs (id, kind, state, payload, created_at) VALUES (?, ?, 'queued', ?, ?)`)
        .run(id, kind, JSON.stringify(payload), now)
      this.db.prepare(`UPDATE jobs SET queue_order = seq WHERE seq = ?`).run(lastInsertRowid)
    })()
    return { id, kind, state: 'queued', payload, attempts: 0, createdAt: now }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.db.prepare(`SELECT ${COLS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined
    return r && toRecord(r)
  }

  async list(opts: { state?: JobState; limit?: number; before?: string } = {}): Promise<JobRecord[]> {
    const where: string[] = []
    const args: unknown[] = []
    if (opts.state) { where.push('state = ?'); args.push(opts.state) }
    if (opts.before !== undefined) {
      const r = this.db.prepare(`SELECT seq FROM jobs WHERE id = ?`).get(opts.before) as { seq: number } | undefined
      if (!r) throw new JobNotFoundError(opts.before)
      where.push('seq < ?'); args.push(r.seq)
    }
    const sql = `SELECT ${COLS} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`
    return (this.db.prepare(sql).all(...args, opts.limit ?? 100) as JobRow[]).map(toRecord)
  }

  async claimNext(): Promise<JobRecord | undefined> {
    return this.db.transaction(() => {
      const r = this.db.prepare(`SELECT ${COLS} FROM jobs WHERE state = 'queued' ORDER BY queue_order LIMIT 1`).get() as JobRow | undefined
      if (!r) return undefined
      const now = Date.now()
      this.db.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?`).run(now, r.id)
      return toRecord({ ...r, state: 'running', attempts: r.attempts + 1, started_at: now })
    })()
  }

  async finish(id: string, state: 'done' | 'failed' | 'cancelled', outcome: { result?: unknown; error?: JobError }): Promise<void> {
    this.db.prepare(`UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ? WHERE id = ?`).run(
      state, outcome.result === undefined ? null : JSON.stringify(outcome.result),
      outcome.error === undefined ? null : JSON.stringify({ name: outcome.error.name, message: outcome.error.message }), Date.now(), id)
  }

  async cancel(id: string): Promise<CancelOutcome> {
    return this.db.transaction((): CancelOutcome => {
      const r = this.db.prepare(`SELECT state FROM jobs WHERE id = ?`).get(id) as { state: JobState } | undefined
      if (!r) return 'missing'
      if (r.state === 'running') return 'running'
      if (r.state !== 'queued') return 'finished'
      this.db.prepare(`UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ?`).run(Date.now(), id)
      return 'cancelled'
    })()
  }

  async requeueRunning(): Promise<number> {
    return this.db.prepare(`UPDATE jobs SET state = 'queued', started_at = NULL WHERE state = 'running'`).run().changes
  }

  async position(id: string): Promise<number | undefined> {
    const r = this.db.prepare(`SELECT queue_order, state FROM jobs WHERE id = ?`).get(id) as { queue_order: number; state: JobState } | undefined
    if (r?.state !== 'queued') return undefined
    const { n } = this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE state = 'queued' AND queue_order <= ?`).get(r.queue_order) as { n: number }
    return n
  }

  async move(id: string, to: MoveTarget): Promise<number> {
    return this.db.transaction((): number => {
      const stateOf = (jobId: string): JobState => {
        const r = this.db.prepare(`SELECT state FROM jobs WHERE id = ?`).get(jobId) as { state: JobState } | undefined
        if (!r) throw new JobNotFoundError(jobId)
        return r.state
      }
      const own = stateOf(id)
      if (own !== 'queued') throw new JobNotQueuedError(id, own)
      const queue = this.db.prepare(`SELECT id, queue_order FROM jobs WHERE state = 'queued' ORDER BY queue_order`).all() as { id: string; queue_order: number }[]
      const others = queue.map((q) => q.id).filter((q) => q !== id)
      let at: number
      if ('before' in to) {
        if (to.before === id) return queue.findIndex((q) => q.id === id) + 1
        at = others.indexOf(to.before)
        if (at < 0) throw new JobNotQueuedError(to.before, stateOf(to.before))
      } else {
        at = Math.min(Math.max(Math.trunc(to.position), 1), queue.length) - 1
      }
      others.splice(at, 0, id)
      const set = this.db.prepare(`UPDATE jobs SET queue_order = ? WHERE id = ?`)
      others.forEach((jobId, i) => { if (queue[i]!.id !== jobId) set.run(queue[i]!.queue_order, jobId) })
      return at + 1
    })()
  }

  async counts(): Promise<Record<JobState, number>> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>
    for (const r of this.db.prepare(`SELECT state, count(*) AS n FROM jobs GROUP BY state`).all() as { state: JobState; n: number }[]) out[r.state] = r.n
    return out
  }

  async addOutput(o: JobOutput): Promise<void> {
    this.db.prepare(`INSERT OR REPLACE INTO job_outputs (job_id, idx, seed, infotext, file, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(o.jobId, o.index, o.seed, o.infotext, o.file ?? null, o.createdAt)
  }

  async outputs(jobId: string): Promise<JobOutput[]> {
    return (this.db.prepare(`SELECT * FROM job_outputs WHERE job_id = ? ORDER BY idx`).all(jobId) as OutputRow[]).map(toOutput)
  }

  async findOutputs(q: OutputQuery): Promise<PagedOutput[]> {
    const where: string[] = []
    const args: unknown[] = []
    if (q.before !== undefined) {
      const [time, row] = parseCursor(q.before)
      where.push('(created_at < ? OR (created_at = ? AND rowid < ?))'); args.push(time, time, row)
    }
    if (q.text) { where.push(`infotext LIKE ? ESCAPE '\\'`); args.push(likePattern(q.text)) }
    if (q.since !== undefined) { where.push('created_at >= ?'); args.push(q.since) }
    if (q.until !== undefined) { where.push('created_at < ?'); args.push(q.until) }
    if (q.savedOnly) where.push('file IS NOT NULL')
    const sql = `SELECT rowid AS rid, * FROM job_outputs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`
    return (this.db.prepare(sql).all(...args, q.limit) as PagedRow[]).map((r) => ({ ...toOutput(r), cursor: `${r.created_at}.${r.rid}` }))
  }
}
