/**
 * The Redis-mode test set-up: `sdloom worker` child processes (the real CLI, short lock and poll times), a server
 * in this process whose engine is the queue's, and checkpoints that differ from the tiny SD1 model only in their
 * safetensors metadata (same weights, another sha256: a model some workers lack).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { QueueEngine } from '../../src/cli/queue/queue-engine.ts'
import { RedisDispatcher } from '../../src/jobs/redis-dispatcher.ts'
import { parseQueueUrl } from '../../src/jobs/redis-url.ts'
import type { ServeConfig } from '../../src/server/start.ts'
import { REPO_ROOT, TOKENIZER_DIR, ref } from '../golden.ts'
import { MAIN } from './generate-cli.ts'
import type { TestServer } from './server-helpers.ts'

export interface TestWorker {
  readonly id: string
  readonly proc: ChildProcess
  /** Its --json lines so far. */
  readonly lines: { event: string; key?: string; attempt?: number; hot?: boolean; [k: string]: unknown }[]
  stderr: string
  readonly ready: Promise<void>
  /** Keys of the jobs it finished. */
  jobs(): string[]
}

export function startWorker(id: string, url: string, root: string, dataDir: string, env: NodeJS.ProcessEnv): TestWorker {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--queue', url, '--models', root, '--data', dataDir, '--id', id,
    '--tokenizer', TOKENIZER_DIR, '--lock-ms', '1500', '--poll-ms', '100', '--json'], { cwd: REPO_ROOT, env: { ...process.env, ...env } })
  const w: TestWorker = {
    id, proc, lines: [], stderr: '', ready: undefined as unknown as Promise<void>,
    jobs: () => w.lines.filter((l) => l.event === 'job').map((l) => l.key!),
  }
  let buf = ''
  ;(w as { ready: Promise<void> }).ready = new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split('\n')
      buf = parts.pop()!
      for (const p of parts) {
        const line = JSON.parse(p) as TestWorker['lines'][number]
        w.lines.push(line)
        if (line.event === 'ready') resolve()
      }
    })
    proc.stderr!.on('data', (d: Buffer) => { w.stderr += d.toString() })
    proc.on('exit', (code) => reject(new Error(`worker ${id} exited (${code}): ${w.stderr}`)))
  })
  w.ready.catch(() => undefined)
  return w
}

/** The tiny SD1 checkpoint with `variant` in its metadata: the same weights under another sha256. */
export async function checkpointVariant(variant: string): Promise<Uint8Array> {
  const bytes = await readFile(ref('sd1', 'tiny-sd1.safetensors'))
  const n = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>
  header.__metadata__ = { ...(header.__metadata__ as object), variant }
  let text = JSON.stringify(header)
  text += ' '.repeat((8 - (text.length % 8)) % 8)
  const head = Buffer.alloc(8)
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(text)))
  return Buffer.concat([head, Buffer.from(text), bytes.subarray(8 + n)])
}

/** ServeConfig parts of a producer-only server on `url` (short timeouts for tests). */
export const queueServe = (url: string, noWorkerTimeoutMs = 3000): Partial<ServeConfig> => ({
  concurrency: 8,
  createEngine: (resolver) => new QueueEngine(new RedisDispatcher(parseQueueUrl(url), { noWorkerTimeoutMs, pollMs: 250 }), resolver),
})

/** Polls the jobs API until the job is final. */
export async function settled(s: TestServer, id: string, timeoutMs = 40_000): Promise<{ state: string; error: { message: string } | null; images: unknown[]; attempts: number }> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const { body } = await s.fetchJson(`/sdloom/v1/jobs/${id}`)
    if (['done', 'failed', 'cancelled'].includes(body.state)) {
      // An internal error's details are in the server log only (clients never see them): show them here.
      if (body.error?.name === 'InternalError') body.error.log = s.logs.filter((l) => l.includes('internal error'))
      return body
    }
    if (Date.now() > until) throw new Error(`job ${id} still ${body.state} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
