/**
 * The server's side of the distributed mode (a producer only): each job is added to its model's BullMQ queue under
 * its idempotency key, its progress relayed from the workers' event channel, its result (or failure) read from
 * BullMQ once a worker settles it. Waiting also polls the job's state, so a lost pub/sub message (a reconnect, a
 * server restart) delays a result by at most `pollMs`, and a job Redis no longer has (restarted without
 * persistence) is added again from the data the caller still holds. A job no live worker can take is withdrawn after
 * `noWorkerTimeoutMs` with NoWorkerError.
 */
import { Job, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { RunnerStopped } from './runner.ts'
import {
  CONTROL_CHANNEL, EVENTS_CHANNEL, NoWorkerError, QUEUE_PREFIX, RemoteJobError, WORKERS_KEY, decodeFailure, isFresh, routeQueue,
  type ControlMessage, type EventMessage, type WorkerBeat,
} from './redis-protocol.ts'
import type { QueueConnectionOptions } from './redis-url.ts'

export interface DispatcherOptions {
  /** How long a job may wait while no live worker holds its model (default 120 s). */
  readonly noWorkerTimeoutMs?: number
  /** State poll while waiting (default 1000 ms). */
  readonly pollMs?: number
  /** How long BullMQ keeps a finished job for a restarted server to read (default 1 h). */
  readonly keepFinishedS?: number
}

export interface DispatchCall {
  readonly signal?: AbortSignal
  readonly onProgress?: (event: unknown) => void
}

export class RedisDispatcher {
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly queues = new Map<string, Queue>()
  private readonly waiting = new Map<string, Set<(m: EventMessage) => void>>()
  private readonly subscribed: Promise<unknown>
  private readonly opts: Required<DispatcherOptions>

  constructor(private readonly conn: QueueConnectionOptions, opts: DispatcherOptions = {}) {
    this.opts = { noWorkerTimeoutMs: 120_000, pollMs: 1000, keepFinishedS: 3600, ...opts }
    this.pub = new Redis({ ...conn })
    this.sub = new Redis({ ...conn })
    // ioredis re-subscribes after a reconnect; messages sent meanwhile are lost, which the state poll covers.
    this.subscribed = this.sub.subscribe(EVENTS_CHANNEL)
    this.sub.on('message', (_ch: string, text: string) => this.receive(text))
    for (const r of [this.pub, this.sub]) r.on('error', () => undefined) // reconnects; calls meanwhile wait
  }

  private receive(text: string): void {
    let m: EventMessage
    try { m = JSON.parse(text) as EventMessage } catch { return }
    if (m.t === 'added') return
    for (const f of this.waiting.get(m.key) ?? []) f(m)
  }

  private queue(route: string): Queue {
    let q = this.queues.get(route)
    if (!q) { q = new Queue(routeQueue(route), { connection: { ...this.conn }, prefix: QUEUE_PREFIX }); this.queues.set(route, q) }
    return q
  }

  private async add(route: string, key: string, data: unknown): Promise<void> {
    // An existing id is not added again: a restarted server re-attaches to the job it dispatched before.
    await this.queue(route).add('job', data, {
      jobId: key, attempts: 1, removeOnComplete: { age: this.opts.keepFinishedS }, removeOnFail: { age: this.opts.keepFinishedS },
    })
    await this.pub.publish(EVENTS_CHANNEL, JSON.stringify({ t: 'added', route } satisfies EventMessage))
  }

  /** Runs one job on a worker holding `route` (a model sha256); resolves with the worker's result. */
  async run(key: string, route: string, data: unknown, call: DispatchCall = {}): Promise<unknown> {
    await this.subscribed
    call.signal?.throwIfAborted()
    let wake: (() => void) | undefined
    const listener = (m: EventMessage): void => {
      if (m.t === 'progress') call.onProgress?.(m.event)
      else wake?.()
    }
    const set = this.waiting.get(key) ?? new Set()
    this.waiting.set(key, set.add(listener))
    const onAbort = (): void => wake?.()
    call.signal?.addEventListener('abort', onAbort)
    try {
      await this.add(route, key, data)
      for (;;) {
        if (call.signal?.aborted) return await this.abandon(route, key, call.signal.reason)
        const outcome = await this.check(route, key, data)
        if (outcome) return outcome.result
        await new Promise<void>((r) => { wake = r; setTimeout(r, this.opts.pollMs).unref() })
        wake = undefined
      }
    } finally {
      set.delete(listener)
      if (set.size === 0) this.waiting.delete(key)
      call.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** One look at the job: its result, a failure (thrown), or undefined while it waits or runs. */
  private async check(route: string, key: string, data: unknown): Promise<{ result: unknown } | undefined> {
    const queue = this.queue(route)
    // The state first, then the job: a job read before it completes carries no result yet.
    const state = await queue.getJobState(key)
    const job = state === 'unknown' ? undefined : await Job.fromId(queue, key)
    if (!job) { await this.add(route, key, data); return undefined }
    if (state === 'completed') return { result: job.returnvalue as unknown }
    if (state === 'failed') throw new RemoteJobError(decodeFailure(job.failedReason))
    if (state === 'waiting' && Date.now() - job.timestamp > this.opts.noWorkerTimeoutMs && !(await this.someWorkerHolds(route))) {
      await job.remove().catch(() => undefined) // taken meanwhile: the next look sees it running
      if (!(await Job.fromId(queue, key))) throw new NoWorkerError(route, Math.round(this.opts.noWorkerTimeoutMs / 1000))
    }
    return undefined
  }

  /**
   * The caller gave up on the job. A server shutting down (RunnerStopped) leaves it running: the restarted server
   * re-attaches. Any other reason (cancel, interrupt) withdraws a waiting job or asks its worker to stop.
   */
  private async abandon(route: string, key: string, reason: unknown): Promise<never> {
    if (!(reason instanceof RunnerStopped)) {
      const job = await Job.fromId(this.queue(route), key)
      const removed = job ? await job.remove().then(() => true, () => false) : true
      if (!removed) await this.pub.publish(CONTROL_CHANNEL, JSON.stringify({ t: 'cancel', key } satisfies ControlMessage))
    }
    throw reason
  }

  /** The live workers, as their last heartbeats describe them. */
  async workers(): Promise<WorkerBeat[]> {
    const all = Object.values(await this.pub.hgetall(WORKERS_KEY)).map((t) => JSON.parse(t) as WorkerBeat)
    return all.filter((b) => isFresh(b))
  }

  private async someWorkerHolds(route: string): Promise<boolean> {
    return (await this.workers()).some((b) => b.routes.includes(route))
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()))
    this.sub.disconnect()
    await this.pub.quit().catch(() => undefined)
  }
}
