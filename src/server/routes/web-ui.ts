/**
 * The web UI's static files (built by web/build.mjs into dist/web at `npm install`). Every file of the built folder
 * is read into memory once, when the app is built, and only those names are served: a request names a file of that
 * set or gets 404, so no path outside the folder can be reached. The page runs under a strict Content-Security-Policy
 * (scripts, styles and connections from this origin only; images also from data: URLs, the live previews).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../http-errors.ts'

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' }

const NOT_BUILT = '<!doctype html><meta charset="utf-8"><title>sdloom</title><p>The web UI is not built. Run <code>npm run build:web</code> '
  + '(or <code>npm install</code>) in the sdloom folder, then reload. The API at /sdapi/v1 works without it.</p>'

/** The package root: the nearest folder above this file with a package.json (src/… under tsx, dist/… when built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

interface StaticFile { readonly type: string; readonly body: Buffer }

function readBuilt(dir: string): { index?: Buffer; assets: Map<string, StaticFile> } {
  const assets = new Map<string, StaticFile>()
  const assetDir = join(dir, 'assets')
  if (!existsSync(join(dir, 'index.html')) || !existsSync(assetDir)) return { assets }
  for (const name of readdirSync(assetDir)) {
    const ext = name.slice(name.lastIndexOf('.'))
    if (TYPES[ext]) assets.set(name, { type: TYPES[ext], body: readFileSync(join(assetDir, name)) })
  }
  return { index: readFileSync(join(dir, 'index.html')), assets }
}

export function webUiRoutes(app: FastifyInstance, webDir = join(packageRoot(), 'dist', 'web')): void {
  const built = readBuilt(webDir)
  const secure = { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }
  app.get('/', async (_req, reply) => reply.code(built.index ? 200 : 503).headers({ ...secure, 'cache-control': 'no-cache' })
    .type(TYPES['.html']).send(built.index ?? NOT_BUILT))
  app.get('/assets/:name', async (req, reply) => {
    const file = built.assets.get((req.params as { name: string }).name)
    if (!file) throw new NotFoundError('Not Found')
    // Names carry a content hash, so a file never changes under its name.
    return reply.headers({ ...secure, 'cache-control': 'public, max-age=31536000, immutable' }).type(file.type).send(file.body)
  })
}
