/**
 * What the server (producer) and `sdloom worker`s (consumers) share on Redis, besides BullMQ's own keys. Jobs are
 * plain JSON; a job's BullMQ id is its idempotency key (the server's job id and batch), so adding it twice, as a
 * restarted server does, finds the first. Routing: one BullMQ queue per model sha256 (`m.<sha256>`), taken only by
 * workers that hold that checkpoint; a worker with the model loaded takes first (affinity).
 *   channel <prefix>:events   {t:'progress',key,event} | {t:'settled',key} from workers; {t:'added',route} from the server
 *   channel <prefix>:control  {t:'cancel',key} from the server
 *   hash    <prefix>:workers  worker id → WorkerBeat JSON, refreshed every second (stale after BEAT_STALE_MS)
 */
import { SdError } from '../core/errors.ts'
import type { JobError } from './job-store.ts'

export const QUEUE_PREFIX = 'sdloom'
export const routeQueue = (sha256: string): string => `m.${sha256}`
export const EVENTS_CHANNEL = `${QUEUE_PREFIX}:events`
export const CONTROL_CHANNEL = `${QUEUE_PREFIX}:control`
export const WORKERS_KEY = `${QUEUE_PREFIX}:workers`
export const BEAT_MS = 1000
export const BEAT_STALE_MS = 3500

export type EventMessage =
  | { readonly t: 'progress'; readonly key: string; readonly event: unknown }
  | { readonly t: 'settled'; readonly key: string }
  | { readonly t: 'added'; readonly route: string }
export type ControlMessage = { readonly t: 'cancel'; readonly key: string }

export interface WorkerStats {
  readonly jobs: number
  readonly failed: number
  /** Jobs taken from the queue of a model the worker had loaded: a model load avoided. */
  readonly hotPicks: number
  /** Jobs taken for a model not loaded (a load, unless the model was loaded meanwhile). */
  readonly coldPicks: number
  /** Completions refused because the worker had lost the job's lock (another worker redoes it). */
  readonly lostLocks: number
}

export interface WorkerBeat {
  readonly id: string
  /** Model sha256s this worker holds. */
  readonly routes: readonly string[]
  /** Model sha256s loaded now, most recently used first. */
  readonly loaded: readonly string[]
  /** Job slots free now. */
  readonly free: number
  readonly at: number
  readonly stats: WorkerStats
}

export const isFresh = (b: WorkerBeat, now = Date.now()): boolean => now - b.at < BEAT_STALE_MS

/** A job failed on a worker: its error's name and message (SdError messages only; others are summarised). */
export class RemoteJobError extends SdError {
  override name = 'RemoteJobError'
  constructor(readonly remote: JobError) { super(remote.message) }
}

/** No live worker holds the job's checkpoint: it waited the --queue-timeout and was withdrawn. */
export class NoWorkerError extends SdError {
  override name = 'NoWorkerError'
  constructor(readonly route: string, seconds: number) {
    super(`no worker holds the checkpoint with sha256 ${route.slice(0, 12)}…: the job waited ${seconds} s and was withdrawn. `
      + 'Hint: start `sdloom worker --models DIR` on a machine whose models folder has this file, or raise --queue-timeout')
  }
}

/** BullMQ keeps only a failure's message: the error travels as JSON in it. */
export const encodeFailure = (e: JobError): string => JSON.stringify({ name: e.name, message: e.message })
export function decodeFailure(reason: string | undefined): JobError {
  try {
    const v = JSON.parse(reason ?? '') as Partial<JobError>
    if (typeof v.name === 'string' && typeof v.message === 'string') return { name: v.name, message: v.message }
  } catch { /* a reason written by BullMQ itself (a stalled job over its limit) */ }
  return { name: 'RemoteJobError', message: reason ?? 'the job failed on a worker' }
}
