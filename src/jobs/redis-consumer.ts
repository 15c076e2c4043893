/**
 * A `sdloom worker`'s side of the distributed mode. It takes jobs only from the queues of the models it holds (one
 * BullMQ queue per model sha256), with `concurrency` slots each taking one job at a time. Affinity: a free slot first
 * tries the queues of the models loaded now; it takes from another model's queue only when no other live worker with
 * that model loaded has a free slot (their heartbeats say), so a load is avoided whenever one can be.
 * Jobs are fetched manually (BullMQ's getNextJob), so the worker extends its locks itself while a job runs; when it
 * dies, the lock expires after `lockMs` and the stalled-job check of any live worker puts the job back in its queue
 * for another worker. A completion carries the lock token: a worker that lost its lock cannot complete a job twice.
 */
import { randomUUID } from 'node:crypto'
import { Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { SdError } from '../core/errors.ts'
import type { JobError } from './job-store.ts'
import {
  BEAT_MS, CONTROL_CHANNEL, EVENTS_CHANNEL, QUEUE_PREFIX, WORKERS_KEY, encodeFailure, isFresh, routeQueue,
  type ControlMessage, type EventMessage, type WorkerBeat, type WorkerStats,
} from './redis-protocol.ts'
import type { QueueConnectionOptions } from './redis-url.ts'

export interface ConsumedJob {
  readonly key: string
  readonly route: string
  readonly data: unknown
  /** 1 on the first run; more after a worker died with it. */
  readonly attempt: number
  /** Taken because its model was loaded here (a load avoided). */
  readonly hot: boolean
}

export interface ConsumerContext {
  readonly signal: AbortSignal
  /** Relays one progress event (JSON) to the server. */
  progress(event: unknown): void
}

export interface ConsumerOptions {
  readonly id: string
  /** Model sha256s this worker holds. */
  readonly routes: readonly string[]
  /** Model sha256s loaded now, most recently used first. */
  readonly loaded: () => Promise<readonly string[]>
  readonly handler: (job: ConsumedJob, ctx: ConsumerContext) => Promise<unknown>
  readonly concurrency?: number
  /** A job's lock lives this long unless extended (default 30 s); a dead worker's job is retried after it. */
  readonly lockMs?: number
  /** How often stalled jobs are looked for (default lockMs / 2). */
  readonly stalledCheckMs?: number
  /** Idle poll when no 'added' message comes (default 500 ms). */
  readonly pollMs?: number
  readonly log?: (line: string) => void
}

/** What a failed job's client sees: SdError messages are written for users; anything else may carry internals. */
const failureOf = (e: unknown, id: string): JobError =>
  e instanceof SdError ? { name: e.name, message: e.message } : { name: 'InternalError', message: `internal error on worker ${id}; its log has the details` }

export class RedisConsumer {
  private readonly workers = new Map<string, Worker>()
  private readonly active = new Map<string, AbortController>()
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly stats = { jobs: 0, failed: 0, hotPicks: 0, coldPicks: 0, lostLocks: 0 }
  private loadedNow: readonly string[] = []
  private stopping = false
  private slots: Promise<void>[] = []
  private wakers = new Set<() => void>()
  private beatTimer: NodeJS.Timeout | undefined
  private readonly lockMs: number
  private readonly log: (line: string) => void

  constructor(private readonly conn: QueueConnectionOptions, private readonly opts: ConsumerOptions) {
    this.lockMs = opts.lockMs ?? 30_000
    this.log = opts.log ?? (() => undefined)
    this.pub = new Redis({ ...conn })
    this.sub = new Redis({ ...conn })
    for (const r of [this.pub, this.sub]) r.on('error', (e: Error) => this.log(`redis: ${e.message}`))
  }

  get statistics(): WorkerStats { return { ...this.stats } }

  async start(): Promise<void> {
    for (const route of this.opts.routes) {
      const w = new Worker(routeQueue(route), null, {
        connection: { ...this.conn }, prefix: QUEUE_PREFIX, lockDuration: this.lockMs,
        stalledInterval: this.opts.stalledCheckMs ?? Math.max(250, this.lockMs / 2), maxStalledCount: 2, autorun: false,
      })
      w.on('error', (e) => this.log(`queue ${route.slice(0, 10)}: ${e.message}`))
      this.workers.set(route, w)
      await w.startStalledCheckTimer()
    }
    await this.sub.subscribe(EVENTS_CHANNEL, CONTROL_CHANNEL)
    this.sub.on('message', (ch: string, text: string) => this.receive(ch, text))
    this.loadedNow = await this.opts.loaded()
    await this.beat()
    this.beatTimer = setInterval(() => { void this.beat().catch(() => undefined) }, BEAT_MS)
    for (let i = 0; i < (this.opts.concurrency ?? 1); i++) this.slots.push(this.slot())
  }

  private receive(channel: string, text: string): void {
    try {
      const m = JSON.parse(text) as EventMessage | ControlMessage
      if (channel === CONTROL_CHANNEL && m.t === 'cancel') this.active.get(m.key)?.abort(new Error('cancelled by the server'))
      if (channel === EVENTS_CHANNEL && m.t === 'added' && this.workers.has(m.route)) this.wakeAll()
    } catch { /* not ours */ }
  }

  private wakeAll(): void {
    for (const w of this.wakers) w()
    this.wakers.clear()
  }

  /**
   * Never waits on `loaded()`: an engine busy with a job may answer only when the job ends, and a beat held that
   * long would show this worker free (or dead) meanwhile. The loaded list is refreshed when a slot looks for work.
   */
  private async beat(): Promise<void> {
    const b: WorkerBeat = {
      id: this.opts.id, routes: this.opts.routes, loaded: this.loadedNow, free: (this.opts.concurrency ?? 1) - this.active.size, at: Date.now(), stats: this.statistics,
    }
    await this.pub.hset(WORKERS_KEY, this.opts.id, JSON.stringify(b))
  }

  private async slot(): Promise<void> {
    while (!this.stopping) {
      const token = randomUUID()
      let job: (Job & { hot?: boolean }) | undefined
      try { job = await this.pick(token) } catch (e) { this.log(`taking a job: ${(e as Error).message}`) }
      if (job) { await this.process(job, token); continue }
      await new Promise<void>((r) => { this.wakers.add(r); setTimeout(r, this.opts.pollMs ?? 500).unref() })
    }
  }

  /** Loaded models' queues first; another model's queue only when no free live worker has that model loaded. */
  private async pick(token: string): Promise<(Job & { hot?: boolean }) | undefined> {
    // The list as it was when the last job ended (models change only while jobs run): no engine round trip here,
    // so a busy worker between two jobs looks free for as short a time as can be.
    const loaded = this.loadedNow.filter((r) => this.workers.has(r))
    for (const route of loaded) {
      const job = await this.workers.get(route)!.getNextJob(token, { block: false })
      if (job) { this.stats.hotPicks++; return Object.assign(job, { hot: true }) }
    }
    const others = Object.values(await this.pub.hgetall(WORKERS_KEY)).map((t) => JSON.parse(t) as WorkerBeat)
      .filter((b) => b.id !== this.opts.id && isFresh(b) && b.free > 0)
    for (const route of this.opts.routes) {
      if (loaded.includes(route) || others.some((b) => b.loaded.includes(route))) continue
      const job = await this.workers.get(route)!.getNextJob(token, { block: false })
      if (job) { this.stats.coldPicks++; return job }
    }
    return undefined
  }

  private async process(job: Job & { hot?: boolean }, token: string): Promise<void> {
    const key = job.id!
    const controller = new AbortController()
    this.active.set(key, controller)
    void this.beat().catch(() => undefined)
    const publish = (m: EventMessage): void => { void this.pub.publish(EVENTS_CHANNEL, JSON.stringify(m)).catch(() => undefined) }
    const lock = setInterval(() => { job.extendLock(token, this.lockMs).catch(() => undefined) }, Math.max(100, this.lockMs / 3))
    const route = job.queueName.slice(routeQueue('').length)
    try {
      const result = await this.opts.handler({ key, route, data: job.data as unknown, attempt: job.attemptsStarted, hot: job.hot === true }, {
        signal: controller.signal, progress: (event) => publish({ t: 'progress', key, event }),
      })
      clearInterval(lock)
      await job.moveToCompleted(result, token, false)
      this.stats.jobs++
    } catch (e) {
      clearInterval(lock)
      if (this.stopping && controller.signal.aborted) await job.moveToWait(token).catch(() => undefined)
      // A cancel from the server is an outcome, not an internal error (the server has already let the job go).
      else await this.fail(job, token, controller.signal.aborted ? new SdError('cancelled by the server') : e)
    } finally {
      clearInterval(lock)
      this.loadedNow = await this.opts.loaded().catch(() => this.loadedNow)
      this.active.delete(key)
      publish({ t: 'settled', key })
      void this.beat().catch(() => undefined)
    }
  }

  private async fail(job: Job, token: string, e: unknown): Promise<void> {
    if (/lock|Missing key/i.test((e as Error)?.message ?? '') && !(e instanceof SdError)) {
      this.stats.lostLocks++
      this.log(`job ${job.id}: ${(e as Error).message} (another worker has it now)`)
      return
    }
    if (!(e instanceof SdError)) this.log(`job ${job.id}: ${(e as Error)?.stack ?? String(e)}`)
    this.stats.failed++
    await job.moveToFailed(new Error(encodeFailure(failureOf(e, this.opts.id))), token, false).catch((err: Error) => {
      this.stats.lostLocks++
      this.log(`job ${job.id}: cannot record the failure (${err.message})`)
    })
  }

  /** Stops taking jobs; running ones are aborted and put back in their queue for another worker. */
  async stop(): Promise<void> {
    this.stopping = true
    for (const c of this.active.values()) c.abort(new Error('the worker is stopping'))
    this.wakeAll()
    await Promise.all(this.slots)
    clearInterval(this.beatTimer)
    await this.pub.hdel(WORKERS_KEY, this.opts.id).catch(() => undefined)
    await Promise.all([...this.workers.values()].map((w) => w.close()))
    this.sub.disconnect()
    await this.pub.quit().catch(() => undefined)
  }
}
