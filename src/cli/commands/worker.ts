/*
 * `sdloom worker`: runs an Engine (in its worker thread) for a server started with `sdloom serve --queue`. It indexes
 * its own model folders, hashes every checkpoint, and takes jobs only for the checkpoints it holds (matched by
 * sha256, never by path; names of VAEs and LoRAs are looked up in its own library). Logs go to stderr; --json prints
 * one JSON line per finished job and the statistics on exit.
 */
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { InputError, SdError } from '../../core/errors.ts'
import { EngineClient } from '../../engine/client.ts'
import { RedisConsumer, type ConsumedJob, type ConsumerContext } from '../../jobs/redis-consumer.ts'
import { parseQueueUrl, redactQueueUrl } from '../../jobs/redis-url.ts'
import { openDatabase } from '../../jobs/sqlite.ts'
import { Library } from '../../library/library.ts'
import { resolveTokenizerDir } from '../../prompt/index.ts'
import { LibraryResolver } from '../../server/library-resolver.ts'
import type { Command, CommandContext } from '../command.ts'
import { eventToWire, imageToWire, jobFromWire, type WireJob, type WireResult } from '../queue/wire.ts'

const str = (ctx: CommandContext, k: string): string | undefined => (typeof ctx.values[k] === 'string' ? ctx.values[k] as string : undefined)
const list = (ctx: CommandContext, k: string): string[] => {
  const v = ctx.values[k]
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String)
}
function whole(ctx: CommandContext, k: string, fallback: number): number {
  const v = str(ctx, k)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--${k} must be a whole number of at least 1, got "${v}"`)
  return n
}

/** The library of this worker's folders, scanned, with every checkpoint hashed (sha256 → entry). */
async function openLibrary(ctx: CommandContext, dataDir: string, roots: string[], log: (l: string) => void): Promise<{ library: Library; byHash: Map<string, string> }> {
  const library = await Library.open(openDatabase(join(dataDir, 'sdloom-worker.db')), roots)
  const scan = await library.scan()
  log(`library: ${scan.files} files (${scan.inspected} inspected, ${scan.errors} with errors)`)
  const byHash = new Map<string, string>()
  const checkpoints = library.list('checkpoint').filter((e) => !e.error)
  for (const [i, e] of checkpoints.entries()) {
    if (!e.sha256) log(`hashing ${e.rel} (${i + 1}/${checkpoints.length})`)
    byHash.set((await library.hashes(e)).sha256, e.file)
  }
  if (byHash.size === 0) throw new InputError(`no usable checkpoint under ${roots.join(', ')}: a worker needs at least one (models/Stable-diffusion or models/checkpoints)`)
  return { library, byHash }
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length > 0) throw new InputError(`worker takes no arguments, got "${ctx.positionals[0]}". See: sdloom worker --help`)
  const url = str(ctx, 'queue') ?? process.env.SDLOOM_QUEUE
  if (!url) throw new InputError('worker needs --queue redis://HOST:PORT (the one given to `sdloom serve --queue`), or SDLOOM_QUEUE')
  const conn = parseQueueUrl(url, { tlsCaFile: str(ctx, 'queue-tls-ca') })
  const roots = list(ctx, 'models').map((m) => resolve(m))
  if (roots.length === 0) throw new InputError('worker needs --models DIR: the root of an A1111 or ComfyUI install')
  const id = str(ctx, 'id') ?? `${hostname()}-${process.pid}`
  const log = (line: string): void => ctx.warn(`${new Date().toISOString().slice(11, 19)} ${line}`)
  const tokenizerDir = await resolveTokenizerDir({ flag: str(ctx, 'tokenizer'), log })
  const { library, byHash } = await openLibrary(ctx, resolve(str(ctx, 'data') ?? '.'), roots, log)
  const hashOfFile = new Map([...byHash].map(([h, f]) => [f, h]))
  const engine = new EngineClient({ resolver: new LibraryResolver(library), tokenizerDir })
  const handler = async (job: ConsumedJob, jc: ConsumerContext): Promise<WireResult> => {
    const t0 = performance.now()
    const request = jobFromWire(job.data as WireJob)
    log(`job ${job.key} (attempt ${job.attempt}, model ${request.model.slice(0, 10)}${job.hot ? ', loaded: load avoided' : ''})`)
    const result = await engine.generate(request, { signal: jc.signal, onEvent: (e) => { const w = eventToWire(e); if (w) jc.progress(w) } })
    const ms = performance.now() - t0
    if (ctx.json) ctx.out(JSON.stringify({ event: 'job', key: job.key, attempt: job.attempt, hot: job.hot, ms: Math.round(ms) }))
    log(`job ${job.key} done in ${(ms / 1000).toFixed(2)} s`)
    return { images: result.images.map(imageToWire), arch: result.model.arch, prediction: result.model.prediction, warnings: result.warnings, worker: id }
  }
  const consumer = new RedisConsumer(conn, {
    id, routes: [...byHash.keys()], handler, log, concurrency: whole(ctx, 'concurrency', 1),
    lockMs: whole(ctx, 'lock-ms', 30_000), pollMs: whole(ctx, 'poll-ms', 500),
    loaded: async () => (await engine.loadedModels()).map((m) => hashOfFile.get(m.file)).filter((h): h is string => h !== undefined),
  })
  await consumer.start()
  log(`worker ${id} takes jobs from ${redactQueueUrl(url)} for ${byHash.size} checkpoint(s)`)
  if (ctx.json) ctx.out(JSON.stringify({ event: 'ready', id, checkpoints: [...byHash.keys()] }))
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      log(`${signal}: stopping (a running job goes back to its queue)`)
      consumer.stop().then(() => engine.close()).then(done, (e: unknown) => { log(`error while stopping: ${(e as SdError).message}`); done() })
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  const stats = consumer.statistics
  log(`worker ${id}: ${stats.jobs} job(s) done, ${stats.failed} failed, ${stats.hotPicks} model load(s) avoided`)
  if (ctx.json) ctx.out(JSON.stringify({ event: 'stats', id, ...stats, loadsAvoided: stats.hotPicks }))
  library.close()
  return 0
}

export const worker: Command = {
  summary: 'run generation jobs from a Redis queue fed by `sdloom serve --queue`',
  help: [
    'Usage: sdloom worker --queue URL --models DIR [options]',
    '',
    'Takes jobs from the Redis queue of a server started with `sdloom serve --queue URL` and runs them on this',
    'machine. Start as many as you like, on any machines that reach Redis. Checkpoints are matched by sha256, so each',
    'worker keeps its own folders: a job for a checkpoint this worker lacks is left for another worker. A worker with',
    'the checkpoint already loaded takes its jobs first. A worker killed mid-job loses the job to another worker',
    'after --lock-ms. Ctrl-C / SIGTERM stop gracefully (the running job goes back to its queue).',
    '',
    'Options:',
    '  --queue URL         redis://[:PASSWORD@]HOST:PORT[/DB], rediss://… for TLS; or SDLOOM_QUEUE',
    '                      (a password may come from SDLOOM_QUEUE_PASSWORD instead of the URL)',
    '  --queue-tls-ca FILE a CA certificate (PEM) for a Redis TLS certificate the system does not trust',
    '  --models DIR        an A1111 or ComfyUI root, as for serve; repeatable',
    '  --data DIR          where the worker keeps its library index, sdloom-worker.db (default: .)',
    '  --concurrency N     jobs at once (1; on a CPU more only helps with idle cores)',
    '  --id NAME           the worker\'s name in logs and statistics (default HOST-PID)',
    '  --tokenizer DIR     CLIP tokenizer files; else SDLOOM_TOKENIZER or a one-time download',
    '  --lock-ms N         a job\'s lock lifetime; a dead worker\'s job is retried after it (30000)',
    '  --poll-ms N         idle poll for new jobs, besides the server\'s notifications (500)',
    '',
    'Logs go to stderr; --json prints {"event":"ready"}, one {"event":"job"} line per job (hot: the model was',
    'loaded, a load avoided) and {"event":"stats"} (jobs, failed, hotPicks, coldPicks, loadsAvoided) on exit.',
  ].join('\n'),
  options: {
    'queue': { type: 'string' }, 'queue-tls-ca': { type: 'string' }, 'models': { type: 'string', multiple: true }, 'data': { type: 'string' },
    'concurrency': { type: 'string' }, 'id': { type: 'string' }, 'tokenizer': { type: 'string' }, 'lock-ms': { type: 'string' }, 'poll-ms': { type: 'string' },
  },
  run,
}
