/**
 * JobStore on SQLite (better-sqlite3, synchronous and transactional). Order is the insertion sequence `seq`, so a
 * job requeued after a crash keeps its place ahead of later arrivals.
 */
import { randomUUID } from 'node:crypto'
import {
  JOB_STATES, QueueFullError, type CancelOutcome, type EnqueueOptions, type JobError, type JobOutput, type JobRecord,
  type JobState, type JobStore,
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

interface JobRow {
  id: string; kind: string; state: JobState; payload: string; result: string | null; error: string | null
  attempts: number; created_at: number; started_at: number | null; finished_at: number | null
}
interface OutputRow { job_id: string; idx: number; seed: number; infotext: string; file: string | null; created_at: number }

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
  }

  async enqueue<P>(kind: string, payload: P, opts: EnqueueOptions = {}): Promise<JobRecord<P>> {
    const id = randomUUID()
    const now = Date.now()
    this.db.transaction(() => {
      if (opts.maxQueued !== undefined) {
        const { n } = this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE state = 'queued'`).get() as { n: number }
        if (n >= opts.maxQueued) throw new QueueFullError(opts.maxQueued)
      }
      this.db.prepare(`INSERT INTO jobs (id, kind, state, payload, created_at) VALUES (?, ?, 'queued', ?, ?)`)
        .run(id, kind, JSON.stringify(payload), now)
    })()
    return { id, kind, state: 'queued', payload, attempts: 0, createdAt: now }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.db.prepare(`SELECT ${COLS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined
    return r && toRecord(r)
  }

  async list(opts: { state?: JobState; limit?: number } = {}): Promise<JobRecord[]> {
    const limit = opts.limit ?? 100
    const rows = opts.state
      ? this.db.prepare(`SELECT ${COLS} FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?`).all(opts.state, limit)
      : this.db.prepare(`SELECT ${COLS} FROM jobs ORDER BY seq DESC LIMIT ?`).all(limit)
    return (rows as JobRow[]).map(toRecord)
  }

  async claimNext(): Promise<JobRecord | undefined> {
    return this.db.transaction(() => {
      const r = this.db.prepare(`SELECT ${COLS} FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1`).get() as JobRow | undefined
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
    const r = this.db.prepare(`SELECT seq, state FROM jobs WHERE id = ?`).get(id) as { seq: number; state: JobState } | undefined
    if (r?.state !== 'queued') return undefined
    const { n } = this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE state = 'queued' AND seq <= ?`).get(r.seq) as { n: number }
    return n
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

  async recentOutputs(limit: number): Promise<JobOutput[]> {
    return (this.db.prepare(`SELECT * FROM job_outputs ORDER BY created_at DESC, idx DESC LIMIT ?`).all(limit) as OutputRow[]).map(toOutput)
  }
}
