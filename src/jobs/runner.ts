/**
 * One runner takes queued jobs in order and runs each through a handler (the server's, which drives the Engine):
 * one at a time by default, or up to `concurrency` at once when the handler only dispatches them (the Redis mode,
 * where workers on other machines run them).
 * Cancelling a running job aborts its signal; the handler decides what a partial result is. Stopping (shutdown)
 * aborts the running job with a `RunnerStopped` reason and puts it back in the queue, so the next start redoes it.
 */
import type { JobError, JobRecord, JobStore } from './job-store.ts'

export interface JobContext {
  readonly signal: AbortSignal
}

/** Returns the job's result (JSON data). Throwing fails the job; returning after an abort marks it cancelled. */
export type JobHandler = (job: JobRecord, ctx: JobContext) => Promise<unknown>

export interface RunnerEvents {
  /** A job entered a final state (or went back to the queue on shutdown). */
  onSettled?(job: JobRecord): void
  onStart?(job: JobRecord): void
}

/** The abort reason the runner uses on shutdown: the job is requeued, not cancelled. */
export class RunnerStopped extends Error {
  override name = 'RunnerStopped'
}

const asJobError = (e: unknown): JobError => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) })

export interface RunnerOptions {
  /** Jobs run at once (default 1). */
  readonly concurrency?: number
}

export class JobRunner {
  /** Running jobs in start order. */
  private readonly running = new Map<string, AbortController>()
  private readonly inFlight = new Set<Promise<void>>()
  private loop: Promise<void> | undefined
  private stopped = false
  private wakeUp: (() => void) | undefined
  /** Set by wake(): a job may have arrived while the loop was looking, so it looks again before sleeping. */
  private kicked = false

  constructor(private readonly store: JobStore, private readonly handler: JobHandler, private readonly events: RunnerEvents = {},
    private readonly opts: RunnerOptions = {}) {}

  /** Puts jobs left running by a previous process back in the queue, then starts taking jobs. */
  async start(): Promise<number> {
    const requeued = await this.store.requeueRunning()
    this.loop = this.work()
    return requeued
  }

  /** A job was enqueued: take it now if idle. */
  wake(): void {
    this.kicked = true
    this.wakeUp?.()
  }

  /** The latest started of the running jobs. */
  get currentJobId(): string | undefined {
    return [...this.running.keys()].at(-1)
  }

  /** Cancels a queued job, or aborts the running one. */
  async cancel(id: string, reason: unknown = new Error('cancelled')): Promise<'cancelled' | 'aborting' | 'finished' | 'missing'> {
    const running = this.running.get(id)
    if (running) { running.abort(reason); return 'aborting' }
    const outcome = await this.store.cancel(id)
    if (outcome === 'cancelled') {
      const job = await this.store.get(id)
      if (job) this.events.onSettled?.(job)
    }
    return outcome === 'running' ? 'aborting' : outcome
  }

  /** Stops taking jobs; the running one is aborted and requeued. Resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const c of this.running.values()) c.abort(new RunnerStopped('the server is shutting down; the job goes back to the queue'))
    this.wakeUp?.()
    await this.loop
    await Promise.all(this.inFlight)
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      this.kicked = false
      const full = this.running.size >= (this.opts.concurrency ?? 1)
      const job = full ? undefined : await this.store.claimNext()
      if (!job) {
        if (!this.kicked && !this.stopped) await new Promise<void>((r) => { this.wakeUp = r })
        this.wakeUp = undefined
        continue
      }
      const run = this.runOne(job).finally(() => { this.inFlight.delete(run); this.wake() })
      this.inFlight.add(run)
    }
  }

  private async runOne(job: JobRecord): Promise<void> {
    const controller = new AbortController()
    this.running.set(job.id, controller)
    this.events.onStart?.(job)
    try {
      const result = await this.handler(job, { signal: controller.signal })
      if (controller.signal.reason instanceof RunnerStopped) await this.store.requeueRunning()
      else await this.store.finish(job.id, controller.signal.aborted ? 'cancelled' : 'done', { result })
    } catch (e) {
      const reason = controller.signal.reason as unknown
      if (reason instanceof RunnerStopped) await this.store.requeueRunning()
      else if (controller.signal.aborted) await this.store.finish(job.id, 'cancelled', { error: asJobError(reason) })
      else await this.store.finish(job.id, 'failed', { error: asJobError(e) })
    } finally {
      this.running.delete(job.id)
    }
    const settled = await this.store.get(job.id)
    if (settled) this.events.onSettled?.(settled)
  }
}
