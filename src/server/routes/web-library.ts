/**
 * What the web UI needs of the library beyond A1111's lists: a model's preview image (the sidecar the scan found),
 * the full `sdloom inspect` report of a library file with its hashes on request, and the prompt tags of a
 * tagcomplete-style `tags.csv` in the data folder (name,type,count,aliases; absent: none). Files are named by the
 * library's own absolute path and looked up in its list, so nothing outside the library is ever read.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { LibraryEntry } from '../../library/library-db.ts'
import { inspectFile, reportToJson } from '../../tools/inspect.ts'
import type { ServerContext } from '../context.ts'
import { NotFoundError } from '../http-errors.ts'

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' }
/** Enough for any autocomplete; tagcomplete's danbooru.csv has ~100k rows, most never typed. */
const MAX_TAGS = 50_000

function libraryEntry(ctx: ServerContext, file: string | undefined): LibraryEntry {
  const entry = file === undefined ? undefined : ctx.library.entry(file)
  if (!entry) throw new NotFoundError('Not Found')
  return entry
}

/** `name,type,count,"aliases"` rows → [name, count], most used first; quoted names are unquoted. */
export function parseTagsCsv(text: string): [string, number][] {
  const rows: [string, number][] = []
  for (const line of text.split(/\r?\n/)) {
    const m = /^("(?:[^"]|"")*"|[^,]*),[^,]*,(\d+)/.exec(line)
    if (!m) continue
    const name = m[1].startsWith('"') ? m[1].slice(1, -1).replaceAll('""', '"') : m[1]
    if (name.trim() !== '') rows.push([name.trim(), Number(m[2])])
  }
  return rows.sort((a, b) => b[1] - a[1]).slice(0, MAX_TAGS)
}

export function webLibraryRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/sdloom/v1/library/preview', async (req, reply) => {
    const entry = libraryEntry(ctx, (req.query as { file?: string }).file)
    const name = entry.sidecars.preview
    if (!name) throw new NotFoundError('Not Found')
    return reply.type(IMAGE_TYPES[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache').send(await readFile(join(dirname(entry.file), name)))
  })
  app.get('/sdloom/v1/library/inspect', async (req) => {
    const q = req.query as { file?: string; hash?: string }
    const entry = libraryEntry(ctx, q.file)
    const report = reportToJson(await inspectFile(entry.file))
    const hashes = q.hash === '1' ? await ctx.library.hashes(entry) : entry.sha256 ? { sha256: entry.sha256, autov2: entry.sha256.slice(0, 10), autov3: entry.autov3 ?? null } : null
    return { file: entry.file, rel: entry.rel, kind: entry.kind, size: entry.size, sidecars: entry.sidecars, hashes, report }
  })
  app.get('/sdloom/v1/tags', async () => {
    const text = await readFile(join(ctx.dataDir, 'tags.csv'), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return ''
      throw e
    })
    return parseTagsCsv(text)
  })
}
