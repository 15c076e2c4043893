/**
 * A private redis-server for one test file: a free loopback port, its own temp folder, append-only persistence with
 * an fsync per write (so a kill -9 of Redis loses no acknowledged job), no RDB snapshots. `redisMissing` says why
 * the Redis tests cannot run (the binary is absent); they skip with that reason, loudly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const which = (cmd: string): string | undefined => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}
const REDIS = which('redis-server')

export const redisMissing: string | false = REDIS === undefined
  ? 'SKIPPED LOUDLY: redis-server is not installed (apt-get install redis-server; .ci/run does it in CI), so the Redis queue is untested here'
  : false
if (redisMissing) console.error(`\n*** ${redisMissing} ***\n`)

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))))
    })
  })
}

/** True once Redis answers PING on the port (it answers LOADING while it replays the append-only file). */
const ping = (port: number): Promise<boolean> => new Promise((resolve) => {
  const sock = connect(port, '127.0.0.1', () => sock.write('PING\r\n'))
  sock.on('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')) })
  sock.on('error', () => resolve(false))
})

export interface TestRedis {
  readonly url: string
  readonly port: number
  /** kill -9 (then `start` again: the append-only file restores every acknowledged write). */
  kill(): Promise<void>
  start(): Promise<void>
  dispose(): Promise<void>
}

export async function startRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = (): Promise<void> => new Promise((resolve, reject) => {
    const c = spawn(REDIS!, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always',
      '--save', '', '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = c
    let out = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000)
    const poll = setInterval(() => {
      void ping(port).then((ok) => { if (ok) { clearInterval(poll); clearTimeout(timer); resolve() } })
    }, 50)
    c.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    c.stderr!.on('data', (d: Buffer) => { out += d.toString() })
    c.on('exit', () => { clearInterval(poll) })
  })
  const kill = async (): Promise<void> => {
    const c = child
    if (!c || c.exitCode !== null) return
    await new Promise<void>((r) => { c.once('exit', () => r()); c.kill('SIGKILL') })
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, kill, start, dispose: async () => { await kill(); await rm(dir, { recursive: true, force: true }) } }
}
