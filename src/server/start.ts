/**
 * Starting and stopping one sdloom server: the data folder's database (jobs + library), the model library (scanned,
 * then watched), the options, the job runner driving the Engine, and the HTTP app. Refuses to listen beyond
 * loopback without credentials. Stopping: no new jobs, waiting clients answered 503, the running job aborted and
 * requeued, connections closed, the engine and the database closed.
 */
import { setMaxListeners } from 'node:events'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'
import type { EngineApi, ModelResolver } from '../engine/contract.ts'
import { SqliteJobStore } from '../jobs/sqlite-job-store.ts'
import { openDatabase } from '../jobs/sqlite.ts'
import { JobRunner } from '../jobs/runner.ts'
import { Library } from '../library/library.ts'
import { buildApp } from './app.ts'
import type { ServerContext } from './context.ts'
import { generationHandler, JobEvents } from './generation.ts'
import { LibraryResolver } from './library-resolver.ts'
import { OptionsStore } from './options-store.ts'
import { ProgressState } from './progress.ts'
import { readStyles } from './styles.ts'
import { DEFAULT_LIMITS, type ServerLimits } from './txt2img-request.ts'
import type { FastifyInstance } from 'fastify'

export interface ServeConfig {
  readonly dataDir: string
  readonly modelRoots: readonly string[]
  readonly host?: string
  /** 0: any free port (tests). */
  readonly port?: number
  /** "user:pass[,user2:pass2]" (A1111's --api-auth). */
  readonly auth?: string
  readonly corsOrigins?: readonly string[]
  readonly limits?: Partial<ServerLimits>
  /** Makes the engine on first use (the worker-thread EngineClient in `sdloom serve`). */
  readonly createEngine: (resolver: ModelResolver) => EngineApi
  /** Jobs handed to the engine at once (default 1; the Redis queue's engine dispatches many to its workers). */
  readonly concurrency?: number
  /** Watch the model folders and rescan on changes (default true). */
  readonly watch?: boolean
  readonly log?: (line: string) => void
}

export interface RunningServer {
  readonly url: string
  readonly port: number
  readonly app: FastifyInstance
  readonly ctx: ServerContext
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export async function startServer(cfg: ServeConfig): Promise<RunningServer> {
  const host = cfg.host ?? '127.0.0.1'
  if (!LOOPBACK.has(host) && !cfg.auth) throw new InputError('--listen serves every network interface and needs credentials: add --api-auth USER:PASS')
  if (cfg.auth !== undefined && !cfg.auth.split(',').every((p) => /^[^:]+:.+$/.test(p))) throw new InputError('--api-auth must be USER:PASS (several: USER:PASS,USER2:PASS2)')
  const log = cfg.log ?? (() => undefined)
  const db = openDatabase(join(cfg.dataDir, 'sdloom.db'))
  const library = await Library.open(db, cfg.modelRoots)
  const scan = await library.scan()
  log(`library: ${scan.files} files (${scan.inspected} inspected, ${scan.errors} with errors) in ${scan.ms.toFixed(0)} ms`)
  if (cfg.watch !== false) library.watch((r) => log(r instanceof Error ? `library watch: ${r.message}` : `library rescanned: ${r.inspected} changed, ${r.removed} removed`))
  const jobs = new SqliteJobStore(db)
  const events = new JobEvents()
  const progress = new ProgressState()
  const pngs = new Map<string, Uint8Array[]>()
  const skipHolder: { skip?: () => void } = {}
  let engine: EngineApi | undefined
  const getEngine = async (): Promise<EngineApi> => (engine ??= cfg.createEngine(new LibraryResolver(library)))
  const runner = new JobRunner(jobs, generationHandler({ engine: getEngine, jobs, dataDir: cfg.dataDir, progress, events, pngs, skipHolder, log }), {
    onStart: (j) => log(`job ${j.id} started (${j.kind}, attempt ${j.attempts})`),
    onSettled: (j) => {
      log(`job ${j.id} ${j.state}${j.error ? `: ${j.error.message}` : ''}`)
      events.emit('event', { jobId: j.id, type: 'settled', state: j.state, ...(j.error ? { error: j.error.message } : {}) })
    },
  }, { concurrency: cfg.concurrency })
  events.on('event', (e) => {
    // Console progress: each phase, and sampling at every quarter of the steps.
    if (e.type === 'phase' && e.total === undefined) log(`job ${e.jobId.slice(0, 8)}: ${e.phase}`)
    if (e.type === 'step' && (e.step === e.steps || e.step % Math.max(1, Math.ceil(e.steps / 4)) === 0)) {
      log(`job ${e.jobId.slice(0, 8)}: batch ${e.batch + 1}/${e.batchCount}, step ${e.step}/${e.steps}, ~${e.etaSeconds.toFixed(0)} s left in this batch`)
    }
  })
  const stopping = new AbortController()
  // every waiting A1111 client listens for the stop (waitForJob): bounded by --max-queue, not by Node's default 10
  setMaxListeners(0, stopping.signal)
  const ctx: ServerContext = {
    library, jobs, runner, options: await OptionsStore.open(cfg.dataDir), progress, events, pngs, skipHolder, engine: getEngine,
    limits: { ...DEFAULT_LIMITS, ...cfg.limits }, dataDir: cfg.dataDir, styles: () => readStyles(join(cfg.dataDir, 'styles.csv')),
    cmdFlags: { api: true, nowebui: true, listen: !LOOPBACK.has(host), port: cfg.port ?? 7860, api_auth: null, gradio_auth: null, cors_allow_origins: cfg.corsOrigins?.join(',') || null },
    auth: cfg.auth, corsOrigins: cfg.corsOrigins ?? [], accepting: true, stopping: stopping.signal, log,
  }
  const app = buildApp(ctx, (e) => log(`internal error: ${(e as Error)?.stack ?? String(e)}`))
  await app.listen({ host, port: cfg.port ?? 7860 })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : cfg.port ?? 7860
  const requeued = await runner.start()
  if (requeued > 0) log(`${requeued} job(s) left running by the last process went back to the queue`)
  const queued = (await jobs.counts()).queued
  if (queued > 0) log(`${queued} job(s) queued`)
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const close = async (): Promise<void> => {
    ctx.accepting = false
    stopping.abort()
    await runner.stop()
    await app.close()
    library.close()
    await engine?.close()
    db.close()
  }
  return { url, port, app, ctx, close }
}
