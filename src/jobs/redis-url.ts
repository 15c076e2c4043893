/**
 * The `--queue` URL of the distributed mode, read into ioredis options:
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]     plain TCP (port 6379, db 0 by default)
 *   rediss://…                                     the same over TLS (the system's CAs, or --queue-tls-ca FILE)
 * A password may also come from SDLOOM_QUEUE_PASSWORD, so it need not appear in a process list. Every mistake is one
 * QueueUrlError naming the part that is wrong; the password never appears in a message.
 */
import { readFileSync } from 'node:fs'
import { SdError } from '../core/errors.ts'

export class QueueUrlError extends SdError {
  override name = 'QueueUrlError'
  constructor(detail: string) {
    super(`--queue: ${detail}. Expected redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://… for TLS`, { code: 'input' })
  }
}

export interface QueueConnectionOptions {
  readonly host: string
  readonly port: number
  readonly db: number
  readonly username?: string
  readonly password?: string
  readonly tls?: { readonly ca?: string; readonly servername?: string }
  /** BullMQ's requirement for blocking commands: ioredis retries forever instead of failing a request. */
  readonly maxRetriesPerRequest: null
}

/** The URL with the password replaced by ***, for logs. */
export const redactQueueUrl = (url: string): string => url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@')

export function parseQueueUrl(url: string, opts: { readonly tlsCaFile?: string; readonly env?: NodeJS.ProcessEnv } = {}): QueueConnectionOptions {
  let u: URL
  // Not echoed: a mistyped URL may still hold a password.
  try { u = new URL(url) } catch { throw new QueueUrlError('the value is not a URL') }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new QueueUrlError(`scheme "${u.protocol}" is not redis: or rediss:`)
  if (!u.hostname) throw new QueueUrlError('the host is missing')
  const port = u.port === '' ? 6379 : Number(u.port)
  const dbText = u.pathname.replace(/^\//, '')
  const db = dbText === '' ? 0 : Number(dbText)
  if (!Number.isInteger(db) || db < 0 || db > 15 || !/^\d*$/.test(dbText)) throw new QueueUrlError(`database "${dbText}" is not a number from 0 to 15`)
  if (u.search || u.hash) throw new QueueUrlError('options after ? or # are not read; use --queue-tls-ca for TLS')
  const password = u.password ? decodeURIComponent(u.password) : (opts.env ?? process.env).SDLOOM_QUEUE_PASSWORD || undefined
  const tls = u.protocol === 'rediss:' || opts.tlsCaFile !== undefined
  let ca: string | undefined
  if (opts.tlsCaFile !== undefined) {
    try { ca = readFileSync(opts.tlsCaFile, 'utf8') } catch (e) { throw new QueueUrlError(`--queue-tls-ca ${opts.tlsCaFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`) }
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  return {
    host, port, db, maxRetriesPerRequest: null,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls: { ...(ca !== undefined ? { ca } : {}), servername: host } } : {}),
  }
}
