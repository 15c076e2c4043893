/*
 * The default checkpoint, fetched on first use as A1111 does: SD 1.5 pruned EMA-only weights from Hugging Face,
 * kept in `<cache>/models/`. The SHA-256 is checked once, right after the download (or the first time a file
 * found there is used), and remembered in a marker next to it, so later runs cost one stat instead of hashing 4 GB.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { cacheDir } from '../core/cache-dir.ts'
import { download, hfFileUrl } from '../core/download.ts'
import { writeFileAtomic } from '../core/atomic-write.ts'
import { TensorFileError } from '../core/errors.ts'

/** A file pinned by repo, name, size and hash. */
export interface HubFile {
  readonly repo: string
  readonly file: string
  readonly size: number
  readonly sha256: string
  /** For messages: "the default model". */
  readonly what: string
}

/** `v1-5-pruned-emaonly.safetensors` (AutoV2 hash 6ce0161689), the checkpoint A1111 downloads on first run. */
export const DEFAULT_MODEL: HubFile = {
  repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
  file: 'v1-5-pruned-emaonly.safetensors',
  size: 4_265_146_304,
  sha256: '6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa',
  what: 'the default model',
}

export const DEFAULT_MODEL_HINT = 'pass --model FILE to use a local checkpoint'

export interface EnsureModelOptions {
  /** Environment for SDLOOM_CACHE / XDG_CACHE_HOME / SDLOOM_HF_ENDPOINT (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  readonly signal?: AbortSignal
  readonly onProgress?: (received: number, total: number | undefined) => void
  /** Draw a progress bar on stderr (default true; it only animates on a TTY). */
  readonly progressBar?: boolean
  /** Told, in one line, before a download or a first-time hash check starts. */
  readonly log?: (line: string) => void
}

/** Whole milliseconds: some file systems and `utimes` keep no finer mtime. */
interface Marker { readonly sha256: string; readonly size: number; readonly mtimeMs: number }

const markerPath = (path: string): string => `${path}.verified.json`

async function readMarker(path: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(markerPath(path), 'utf8')) as Marker
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return undefined
    throw e
  }
}

async function writeMarker(path: string, sha256: string): Promise<void> {
  const s = await stat(path)
  const marker: Marker = { sha256, size: s.size, mtimeMs: Math.trunc(s.mtimeMs) }
  await writeFileAtomic(markerPath(path), `${JSON.stringify(marker)}\n`)
}

async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Verifies a file already in the cache (once; the marker remembers it). */
async function verifyExisting(path: string, spec: HubFile, opts: EnsureModelOptions): Promise<void> {
  const s = await stat(path)
  const marker = await readMarker(path)
  if (marker && marker.sha256 === spec.sha256 && marker.size === s.size && marker.mtimeMs === Math.trunc(s.mtimeMs)) return
  const fix = `delete it to download it again, or ${DEFAULT_MODEL_HINT}`
  if (s.size !== spec.size) throw new TensorFileError(path, undefined, `expected ${spec.size} bytes for ${spec.file}, found ${s.size}; ${fix}`)
  opts.log?.(`checking the SHA-256 of ${path} (once)`)
  const sha = await sha256OfFile(path)
  if (sha !== spec.sha256) throw new TensorFileError(path, undefined, `SHA-256 is ${sha}, expected ${spec.sha256} for ${spec.file}; ${fix}`)
  await writeMarker(path, sha)
}

/** Returns the local path of a pinned Hugging Face file in `<cache>/models/`, downloading and verifying it once. */
export async function ensureHubModel(spec: HubFile, opts: EnsureModelOptions = {}): Promise<string> {
  const env = opts.env ?? process.env
  const path = join(cacheDir(env), 'models', spec.file)
  const exists = await stat(path).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return false
    throw e
  })
  if (exists) {
    await verifyExisting(path, spec, opts)
    return path
  }
  const url = hfFileUrl(spec.repo, spec.file, env)
  opts.log?.(`downloading ${spec.what} ${spec.file} (${(spec.size / 1e9).toFixed(2)} GB) from ${url} to ${path}`)
  const r = await download({
    url, dest: path, sha256: spec.sha256, expectedSize: spec.size, signal: opts.signal, onProgress: opts.onProgress,
    progressLabel: opts.progressBar === false ? undefined : spec.file, what: spec.what, hint: DEFAULT_MODEL_HINT,
  })
  await writeMarker(path, r.sha256)
  return path
}

/** The default SD 1.5 checkpoint's local path (downloaded on first use). */
export const ensureDefaultModel = (opts: EnsureModelOptions = {}): Promise<string> => ensureHubModel(DEFAULT_MODEL, opts)
