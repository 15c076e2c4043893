/*
 * `sdloom serve`: A1111's HTTP API, sdloom's jobs API and the model library over one data folder. Thin: the server
 * lives in src/server (start.ts); this parses flags, makes the worker-thread engine, logs, and stops gracefully on
 * SIGINT/SIGTERM (no new jobs, the running one requeued, the database closed).
 */
import { resolve } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { EngineClient } from '../../engine/client.ts'
import type { EngineApi, ModelResolver } from '../../engine/contract.ts'
import { RedisDispatcher } from '../../jobs/redis-dispatcher.ts'
import { parseQueueUrl, redactQueueUrl } from '../../jobs/redis-url.ts'
import { QueueEngine } from '../queue/queue-engine.ts'
import { resolveTokenizerDir } from '../../prompt/index.ts'
import { startServer } from '../../server/start.ts'
import { DEFAULT_LIMITS, type ServerLimits } from '../../server/txt2img-request.ts'
import type { Command, CommandContext } from '../command.ts'

const str = (ctx: CommandContext, k: string): string | undefined => (typeof ctx.values[k] === 'string' ? ctx.values[k] as string : undefined)
const list = (ctx: CommandContext, k: string): string[] => {
  const v = ctx.values[k]
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String)
}

function wholeNumber(ctx: CommandContext, k: string, fallback: number, min = 1): number {
  const v = str(ctx, k)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new InputError(`--${k} must be a whole number of at least ${min}, got "${v}"`)
  return n
}

const LIMIT_FLAGS: Record<keyof ServerLimits, string> = {
  maxPixels: 'max-pixels', maxSteps: 'max-steps', maxBatchSize: 'max-batch-size', maxBatchCount: 'max-batch-count', maxQueue: 'max-queue', bodyLimit: 'body-limit',
  requestTimeoutMs: 'request-timeout-ms', maxEventStreams: 'max-event-streams', maxInputPixels: 'max-input-pixels',
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length > 0) throw new InputError(`serve takes no arguments, got "${ctx.positionals[0]}". See: sdloom serve --help`)
  const models = list(ctx, 'models')
  if (models.length === 0) throw new InputError('serve needs --models DIR: the root of an A1111 or ComfyUI install (models/Stable-diffusion, models/Lora, …)')
  const limits = Object.fromEntries(Object.entries(LIMIT_FLAGS).map(([k, flag]) => [k, wholeNumber(ctx, flag, DEFAULT_LIMITS[k as keyof ServerLimits])])) as unknown as ServerLimits
  const tokenizerDir = await resolveTokenizerDir({ flag: str(ctx, 'tokenizer'), log: (l) => ctx.warn(l) })
  const log = (line: string): void => ctx.warn(`${new Date().toISOString().slice(11, 19)} ${line}`)
  const queue = str(ctx, 'queue') ?? process.env.SDLOOM_QUEUE
  const conn = queue === undefined ? undefined : parseQueueUrl(queue, { tlsCaFile: str(ctx, 'queue-tls-ca') })
  const timeoutMs = wholeNumber(ctx, 'queue-timeout', 120) * 1000
  // --queue: a producer only, the Engines run in `sdloom worker`s; else the Engine in a worker thread, so progress,
  // interrupt and the lists stay live while onnxruntime blocks it.
  const createEngine = (resolver: ModelResolver): EngineApi => (conn
    ? new QueueEngine(new RedisDispatcher(conn, { noWorkerTimeoutMs: timeoutMs }), resolver)
    : new EngineClient({ resolver, tokenizerDir }))
  const server = await startServer({
    dataDir: resolve(str(ctx, 'data') ?? '.'), modelRoots: models.map((m) => resolve(m)), port: wholeNumber(ctx, 'port', 7860, 0),
    host: ctx.values.listen === true ? '0.0.0.0' : '127.0.0.1', auth: str(ctx, 'api-auth') ?? process.env.SDLOOM_API_AUTH, corsOrigins: list(ctx, 'cors'),
    limits, log, createEngine, concurrency: conn ? wholeNumber(ctx, 'queue-dispatch', 64) : 1,
  })
  if (queue !== undefined) log(`jobs go to the workers of ${redactQueueUrl(queue)} (sdloom worker --queue …)`)
  log(`sdloom serves A1111's API at ${server.url}/sdapi/v1 and its jobs API at ${server.url}/sdloom/v1${ctx.values.listen ? ' on every interface' : ''}`)
  if (ctx.json) ctx.out(JSON.stringify({ url: server.url }))
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      log(`${signal}: stopping (the running job goes back to the queue)`)
      server.close().then(done, (e: unknown) => { log(`error while stopping: ${(e as Error).message}`); done() })
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  return 0
}

export const serve: Command = {
  summary: 'run an A1111-compatible HTTP server with a persistent job queue and a model library',
  help: [
    'Usage: sdloom serve --models DIR [options]',
    '',
    'Serves A1111\'s /sdapi/v1 (txt2img, progress, interrupt, skip, options, sd-models, loras, embeddings, …) so',
    'existing A1111 clients work unchanged, plus sdloom\'s own jobs API (/sdloom/v1/jobs, SSE at /sdloom/v1/events).',
    'Every accepted request is a job in the data folder\'s SQLite database before it is answered: a crash or kill -9',
    'loses none (they run after the restart). Ctrl-C / SIGTERM stop gracefully.',
    '',
    'Options:',
    '  --models DIR        an A1111 root (models/Stable-diffusion, models/Lora, models/LyCORIS, models/VAE, embeddings)',
    '                      or a ComfyUI root (models/checkpoints, models/loras, models/vae, models/embeddings);',
    '                      repeatable; sub-folders are scanned; changes are picked up as they happen',
    '  --data DIR          database (sdloom.db), settings (config.json), styles.csv and outputs/ (default: .)',
    '  --port N            port (7860, as A1111; 0: any free port)',
    '  --listen            serve every network interface, not only 127.0.0.1 (needs --api-auth)',
    '  --api-auth U:P      HTTP Basic credentials for every route (several: U:P,U2:P2); or SDLOOM_API_AUTH',
    '  --cors ORIGIN       allow this browser origin (repeatable); none by default',
    '  --tokenizer DIR     CLIP tokenizer files (vocab.json, merges.txt); else SDLOOM_TOKENIZER or a one-time download',
    `  --max-pixels N      width × height of an image (${DEFAULT_LIMITS.maxPixels})`,
    `  --max-input-pixels N  width × height of an uploaded picture (img2img), checked before decoding (${DEFAULT_LIMITS.maxInputPixels})`,
    `  --max-steps N       sampling steps (${DEFAULT_LIMITS.maxSteps})`,
    `  --max-batch-size N  images per batch (${DEFAULT_LIMITS.maxBatchSize})`,
    `  --max-batch-count N batches per request, A1111's n_iter (${DEFAULT_LIMITS.maxBatchCount})`,
    `  --max-queue N       jobs waiting (${DEFAULT_LIMITS.maxQueue}); more are refused with 429`,
    `  --body-limit N      request body bytes (${DEFAULT_LIMITS.bodyLimit})`,
    `  --request-timeout-ms N  time a client has to send a whole request; slower ones are cut off (${DEFAULT_LIMITS.requestTimeoutMs})`,
    `  --max-event-streams N  open /sdloom/v1/events streams (${DEFAULT_LIMITS.maxEventStreams}); more are refused`,
    '  --queue URL         distributed mode: jobs go to `sdloom worker`s through Redis (BullMQ), this server runs',
    '                      none itself; redis://[:PASSWORD@]HOST:PORT[/DB], rediss://… for TLS; or SDLOOM_QUEUE',
    '                      (a password may come from SDLOOM_QUEUE_PASSWORD). Jobs stay in the data folder too.',
    '  --queue-tls-ca FILE a CA certificate (PEM) for the Redis TLS certificate',
    '  --queue-timeout S   a job no live worker can take (its checkpoint on none) fails after S seconds (120)',
    '  --queue-dispatch N  jobs handed to the workers at once; the rest wait in the data folder (64)',
    '',
    'Logs go to stderr; --json prints {url} on stdout once listening.',
  ].join('\n'),
  options: {
    'models': { type: 'string', multiple: true }, 'data': { type: 'string' }, 'port': { type: 'string' }, 'listen': { type: 'boolean' },
    'api-auth': { type: 'string' }, 'cors': { type: 'string', multiple: true }, 'tokenizer': { type: 'string' },
    'queue': { type: 'string' }, 'queue-tls-ca': { type: 'string' }, 'queue-timeout': { type: 'string' }, 'queue-dispatch': { type: 'string' },
    ...Object.fromEntries(Object.values(LIMIT_FLAGS).map((f) => [f, { type: 'string' as const }])),
  },
  run,
}
