/**
 * The job queue's storage contract. Every accepted request is a row before the server answers; one runner takes
 * queued rows in arrival order. The embedded SQLite store (sqlite-job-store.ts) implements it today; a BullMQ/Redis
 * store (many workers) implements the same interface later, so the runner and the server never know which they hold.
 * Jobs hold plain JSON data only: the payload is what a worker needs to redo the job after a crash.
 */
import { SdError } from '../core/errors.ts'

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const
export type JobState = (typeof JOB_STATES)[number]

export interface JobError {
  readonly name: string
  readonly message: string
}

export interface JobRecord<P = unknown, R = unknown> {
  readonly id: string
  /** What the payload is ('txt2img', …): the worker dispatches on it. */
  readonly kind: string
  readonly state: JobState
  readonly payload: P
  readonly result?: R
  readonly error?: JobError
  /** How many times a runner started it (a restart after a crash counts again). */
  readonly attempts: number
  readonly createdAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
}

/** One finished image of a job: the gallery/history row. `file` is absent when it was not saved. */
export interface JobOutput {
  readonly jobId: string
  readonly index: number
  readonly seed: number
  readonly infotext: string
  readonly file?: string
  readonly createdAt: number
}

/** Where a queued job moves: to a 1-based place (clamped to the queue's length), or just ahead of another queued job. */
export type MoveTarget = { readonly position: number } | { readonly before: string }

/** A page of the gallery: images older than `before` (a `cursor` from an earlier page), matching text and a time range. */
export interface OutputQuery {
  readonly limit: number
  /** The `cursor` of the last image of the previous page. */
  readonly before?: string
  /** Case-insensitive substring of the infotext (prompt, model, any parameter). */
  readonly text?: string
  /** createdAt ≥ since (ms since the epoch). */
  readonly since?: number
  /** createdAt < until (ms since the epoch). */
  readonly until?: number
  /** Only images saved to a file (the gallery shows nothing else). */
  readonly savedOnly?: boolean
}

/** A gallery row and the cursor that asks for the images after it. */
export interface PagedOutput extends JobOutput {
  readonly cursor: string
}

export interface EnqueueOptions {
  /** Refuse when this many jobs are already queued (QueueFullError). */
  readonly maxQueued?: number
}

/** What `cancel` found: a queued job is cancelled at once; a running one is the runner's to stop. */
export type CancelOutcome = 'cancelled' | 'running' | 'finished' | 'missing'

export interface JobStore {
  enqueue<P>(kind: string, payload: P, opts?: EnqueueOptions): Promise<JobRecord<P>>
  get(id: string): Promise<JobRecord | undefined>
  /** Newest first; `before` (a job id) starts after that job, for paging. */
  list(opts?: { readonly state?: JobState; readonly limit?: number; readonly before?: string }): Promise<JobRecord[]>
  /** The first job in queue order, now marked running (attempts + 1); undefined when none is queued. */
  claimNext(): Promise<JobRecord | undefined>
  finish(id: string, state: 'done' | 'failed' | 'cancelled', outcome: { result?: unknown; error?: JobError }): Promise<void>
  cancel(id: string): Promise<CancelOutcome>
  /** Running jobs go back to the queue (at their original place); returns how many. Called at start-up and shutdown. */
  requeueRunning(): Promise<number>
  /** 1-based place in the queue of a queued job; undefined otherwise. */
  position(id: string): Promise<number | undefined>
  /**
   * Moves a queued job; returns its new 1-based place. Throws JobNotFoundError for an unknown id and
   * JobNotQueuedError when the job (or the `before` job) is not waiting in the queue.
   */
  move(id: string, to: MoveTarget): Promise<number>
  counts(): Promise<Record<JobState, number>>
  addOutput(output: JobOutput): Promise<void>
  outputs(jobId: string): Promise<JobOutput[]>
  /** The gallery (latest images over all jobs) page by page, newest first, filtered in the database (so search reaches every image). */
  findOutputs(query: OutputQuery): Promise<PagedOutput[]>
}

/** The queue holds its maximum: the client should retry later or raise the limit. */
export class QueueFullError extends SdError {
  override name = 'QueueFullError'
  constructor(readonly limit: number) {
    super(`the job queue is full (${limit} jobs waiting; limit --max-queue ${limit}). Hint: retry when a job has finished.`)
  }
}

/** A job id that names no job. */
export class JobNotFoundError extends SdError {
  override name = 'JobNotFoundError'
  constructor(readonly id: string) { super(`no job with id "${id}"`) }
}

/** Only a waiting job can move (or be moved ahead of): a running or finished one has left the queue. */
export class JobNotQueuedError extends SdError {
  override name = 'JobNotQueuedError'
  constructor(readonly id: string, readonly state: JobState) {
    super(`job "${id}" is ${state}, not queued, so it has no place in the queue to move. Hint: reload the queue; only queued jobs move`)
  }
}

