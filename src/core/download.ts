/*
 * Resumable HTTP(S) downloads into the cache.
 * The body streams into `DEST.part`; an interrupted download resumes with `Range: bytes=N-` (RFC 9110 §14.2):
 * 206 + `Content-Range: bytes N-…/TOTAL` appends, 200 means the server ignored the range (start over),
 * 416 means nothing is left to send. The SHA-256 covers the whole file (the kept part is re-hashed on resume);
 * on a mismatch the part is removed. Only a complete, verified file is renamed to DEST, so DEST is never partial.
 * Redirects are followed (Hugging Face's `resolve/` URLs redirect to a CDN).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createHash, type Hash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { NetworkError } from './errors.ts'
import { progressBar, type Progress } from './progress.ts'
import { VERSION } from './version.ts'

export interface DownloadOptions {
  readonly url: string
  readonly dest: string
  /** Lower-case hex SHA-256 the complete file must have. */
  readonly sha256?: string
  readonly expectedSize?: number
  /** Called as bytes arrive (at most every 100 ms, and once at the end). */
  readonly onProgress?: (received: number, total: number | undefined) => void
  /** Draw core/progress's bar (MB/s, ETA) on stderr with this label. */
  readonly progressLabel?: string
  readonly signal?: AbortSignal
  /** What is being downloaded, for messages ("the default model"); default: the file name. */
  readonly what?: string
  /** Appended to failure messages: what to do instead ("pass --model FILE to use a local checkpoint"). */
  readonly hint?: string
  /** Resumes after a connection drops mid-file (default 3). */
  readonly retries?: number
  /** Give up when the server sends nothing for this long (default 30 s). */
  readonly idleTimeoutMs?: number
}

export interface DownloadResult {
  readonly path: string
  readonly bytes: number
  /** SHA-256 of the file (computed while downloading). */
  readonly sha256: string
}

/** `SDLOOM_HF_ENDPOINT` (like huggingface_hub's `HF_ENDPOINT`), default https://huggingface.co. */
export const hfEndpoint = (env: NodeJS.ProcessEnv = process.env): string =>
  (env.SDLOOM_HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '')

/** The download URL of a file in a Hugging Face repo: `<endpoint>/<repo>/resolve/<revision>/<file>`. */
export const hfFileUrl = (repo: string, file: string, env: NodeJS.ProcessEnv = process.env, revision = 'main'): string =>
  `${hfEndpoint(env)}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`

/** Failure before any response: offline, refused, timed out. Not retried: the user should learn at once. */
class ConnectError extends Error {}
/** The connection dropped after data started flowing: resumable. */
class DroppedError extends Error {}

const MAX_REDIRECTS = 10

function describeSocketError(e: NodeJS.ErrnoException, url: URL): string {
  const host = url.host
  switch (e.code) {
    case 'ECONNREFUSED': return `connection refused by ${host}`
    case 'ENOTFOUND': case 'EAI_AGAIN': return `cannot resolve ${url.hostname}; offline?`
    case 'ETIMEDOUT': return `no answer from ${host} (timed out)`
    case 'ECONNRESET': return `connection reset by ${host}`
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `${host} is unreachable; offline?`
    default: return `${host}: ${e.code ? `${e.code}: ` : ''}${e.message}`
  }
}

interface Response { readonly res: IncomingMessage; readonly url: URL }

/** One GET, following redirects; resolves once headers of a non-redirect response arrive. */
function get(url: URL, headers: Record<string, string>, opts: DownloadOptions, redirects = 0): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers, signal: opts.signal })
    req.setTimeout(opts.idleTimeoutMs ?? 30_000, () => {
      req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }))
    })
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.name === 'AbortError' ? e : new ConnectError(describeSocketError(e, url)))
    })
    req.on('response', (res) => {
      const location = res.headers.location
      if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume()
        if (redirects >= MAX_REDIRECTS) { reject(new ConnectError(`more than ${MAX_REDIRECTS} redirects from ${url.host}`)); return }
        get(new URL(location, url), headers, opts, redirects + 1).then(resolve, reject)
        return
      }
      resolve({ res, url })
    })
    req.end()
  })
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw e
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
}

/** Where the body starts and the file's total size, from the response to a request made from `start`. */
function bodyRange(r: Response, start: number): { from: number; total: number | undefined } | 'complete' {
  const { res } = r
  const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined
  if (res.statusCode === 200) return { from: 0, total: length }
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''))
  const total = m && m[2] !== '*' ? Number(m[2]) : undefined
  if (res.statusCode === 416 && start > 0 && total === start) return 'complete'
  if (res.statusCode === 206 && m?.[1] !== undefined && Number(m[1]) === start) return { from: start, total }
  if (res.statusCode === 206 || res.statusCode === 416) {
    throw new DroppedError(`server answered the resume request with ${res.statusCode} ${res.headers['content-range'] ?? '(no Content-Range)'}`)
  }
  throw new ConnectError(`HTTP ${res.statusCode} ${res.statusMessage ?? ''} from ${r.url.host}${r.url.pathname}`.trim())
}

interface Attempt { readonly total: number | undefined; readonly received: number }

/**
 * Appends the body to the file as it arrives, in flowing mode, so bytes already received are kept when the
 * connection drops (an async iterator would discard its buffer). Resolves with the stream error, if any, once the
 * file is written and closed.
 */
function appendBody(res: IncomingMessage, file: { path: string; flags: 'a' | 'w' }, onChunk: (b: Buffer) => void): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    // A deep write buffer: pausing `res` leaves bytes in its own buffer, which a dropped connection discards.
    const out = createWriteStream(file.path, { flags: file.flags, highWaterMark: 8 << 20 })
    let failure: Error | undefined
    let ended = false
    const finish = (): void => { if (!ended) { ended = true; out.end() } }
    out.on('error', (e) => { res.destroy(); reject(e) })
    out.on('drain', () => res.resume())
    res.on('data', (buf: Buffer) => { onChunk(buf); if (!out.write(buf)) res.pause() })
    res.on('error', (e) => { failure ??= e; finish() })
    res.on('end', finish)
    res.on('close', () => { if (!res.complete) failure ??= new Error('connection closed'); finish() })
    out.on('close', () => resolve(failure))
  })
}

/** fsync through a second descriptor: the data reaches the disk before the rename makes the file visible. */
async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** One request: resumes from the part's size when it has one, appends the body, returns the byte counts. */
async function attempt(opts: DownloadOptions, part: string, hash: { h: Hash }, report: (n: number, t?: number) => void): Promise<Attempt> {
  let start = await fileSize(part)
  if (opts.expectedSize !== undefined && start > opts.expectedSize) { await rm(part); start = 0 }
  const headers: Record<string, string> = { 'User-Agent': `sdloom/${VERSION}`, 'Accept-Encoding': 'identity' }
  if (start > 0) headers.Range = `bytes=${start}-`
  const r = await get(new URL(opts.url), headers, opts)
  let range: ReturnType<typeof bodyRange>
  try {
    range = bodyRange(r, start)
  } catch (e) {
    r.res.resume()
    if (e instanceof DroppedError) await rm(part, { force: true }) // unusable part: the next attempt starts over
    throw e
  }
  if (range === 'complete') { r.res.resume(); hash.h = createHash('sha256'); await hashFile(part, hash.h); return { total: start, received: start } }
  if (range.total !== undefined && opts.expectedSize !== undefined && range.total !== opts.expectedSize) {
    r.res.destroy() // not the file we want: fail before fetching it
    throw new ConnectError(`the server offers ${range.total} bytes, expected ${opts.expectedSize}`)
  }
  hash.h = createHash('sha256')
  if (range.from > 0) await hashFile(part, hash.h)
  let received = range.from
  const failure = await appendBody(r.res, { path: part, flags: range.from > 0 ? 'a' : 'w' }, (buf) => {
    hash.h.update(buf)
    received += buf.length
    report(received, range.total)
  })
  await syncFile(part)
  if (failure) {
    opts.signal?.throwIfAborted()
    throw new DroppedError(`connection dropped after ${received} bytes (${failure.message})`)
  }
  if (range.total !== undefined && received < range.total) throw new DroppedError(`connection closed after ${received} of ${range.total} bytes`)
  return { total: range.total, received }
}

function throttled(opts: DownloadOptions): { report: (n: number, t?: number) => void; end: (n: number, t?: number) => void } {
  let bar: Progress | undefined
  let last = 0
  const emit = (n: number, t?: number): void => {
    opts.onProgress?.(n, t)
    const total = opts.expectedSize ?? t
    if (opts.progressLabel !== undefined && total !== undefined) {
      bar ??= progressBar({ label: opts.progressLabel, total, unit: 'bytes' })
      bar.tick(n)
    }
  }
  return {
    report: (n, t) => { const now = performance.now(); if (now - last >= 100) { last = now; emit(n, t) } },
    end: (n, t) => { emit(n, t); bar?.end() },
  }
}

/**
 * Downloads `url` to `dest` (see the file comment). Throws NetworkError, one line, naming `what` and ending with
 * `hint`; an AbortError from `signal` passes through (the part stays, for a later resume).
 */
export async function download(opts: DownloadOptions): Promise<DownloadResult> {
  const part = `${opts.dest}.part`
  const fail = (reason: string): NetworkError =>
    new NetworkError(`cannot download ${opts.what ?? basename(opts.dest)} (${reason})${opts.hint ? `; ${opts.hint}` : ''}`)
  opts.signal?.throwIfAborted()
  await mkdir(dirname(opts.dest), { recursive: true })
  const progress = throttled(opts)
  const hash = { h: createHash('sha256') }
  let result: Attempt | undefined
  for (let i = 0; result === undefined; i++) {
    try {
      result = await attempt(opts, part, hash, progress.report)
    } catch (e) {
      if (e instanceof ConnectError || (e instanceof DroppedError && i >= (opts.retries ?? 3))) throw fail(e.message)
      if (!(e instanceof DroppedError)) throw e
    }
  }
  progress.end(result.received, result.total)
  if (opts.expectedSize !== undefined && result.received !== opts.expectedSize) {
    await rm(part, { force: true })
    throw fail(`expected ${opts.expectedSize} bytes, received ${result.received}; the partial file was removed`)
  }
  const sha256 = hash.h.digest('hex')
  if (opts.sha256 !== undefined && sha256 !== opts.sha256.toLowerCase()) {
    await rm(part, { force: true })
    throw fail(`SHA-256 mismatch: expected ${opts.sha256.toLowerCase()}, got ${sha256}; the partial file was removed`)
  }
  await rename(part, opts.dest)
  return { path: opts.dest, bytes: result.received, sha256 }
}
