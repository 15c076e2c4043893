/**
 * The Fastify app: JSON parsing as FastAPI answers it (422 on malformed JSON, an empty JSON body read as {}),
 * schema validation errors in pydantic's shape, one error handler (http-errors.ts), HTTP Basic auth on every route
 * (A1111 leaves its LoRA routes open; sdloom does not), CORS only for the --cors origins, trailing slashes ignored
 * (automatic1111-provider posts to `/sdapi/v1/txt2img/`), and `{"detail": "Not Found"}` for unknown routes.
 */
import { timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { AuthError, LimitError, NotFoundError, RequestValidationError, toHttpAnswer, type ValidationIssue } from './http-errors.ts'
import type { ServerContext } from './context.ts'
import { a1111ListRoutes } from './routes/a1111-lists.ts'
import { a1111OptionRoutes } from './routes/a1111-options.ts'
import { a1111GenerateRoutes } from './routes/a1111-generate.ts'
import { jobRoutes } from './routes/jobs.ts'
import { webLibraryRoutes } from './routes/web-library.ts'
import { webUiRoutes } from './routes/web-ui.ts'

/** Deeper JSON is refused before parsing: recursive code after JSON.parse (stringify, validation) would overflow the stack. */
const MAX_JSON_DEPTH = 100

/** Whether `text` nests arrays/objects deeper than `max` (a linear scan that skips strings). */
function tooDeep(text: string, max: number): boolean {
  let depth = 0
  for (let i = 0, inString = false; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) { if (c === 92) i++; else if (c === 34) inString = false; continue }
    if (c === 34) inString = true
    else if (c === 91 || c === 123) { if (++depth > max) return true } else if (c === 93 || c === 125) depth--
  }
  return false
}

function jsonBody(_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void): void {
  if (body.trim() === '') { done(null, {}); return }
  if (tooDeep(body, MAX_JSON_DEPTH)) {
    done(new RequestValidationError([{ loc: ['body', 0], msg: `JSON nested deeper than ${MAX_JSON_DEPTH} levels`, type: 'value_error.jsondecode' }]))
    return
  }
  try { done(null, JSON.parse(body)) } catch (e) {
    done(new RequestValidationError([{ loc: ['body', 0], msg: `Expecting value: ${(e as Error).message}`, type: 'value_error.jsondecode' }]))
  }
}

/** Ajv errors → pydantic v1 issues (`loc: ["body", field]`, `type_error.integer`, …). */
function toIssues(errors: readonly { instancePath: string; message?: string; params?: Record<string, unknown> }[]): ValidationIssue[] {
  return errors.map((e) => {
    const path = e.instancePath.split('/').filter((s) => s !== '').map((s) => (/^\d+$/.test(s) ? Number(s) : s))
    const t = String((e.params as { type?: unknown } | undefined)?.type ?? 'value').replace(/,?null$/, '').split(',')[0]
    return { loc: ['body', ...path], msg: `value is not a valid ${t === 'number' ? 'float' : t === 'string' ? 'str' : t}${e.message ? ` (${e.message})` : ''}`, type: `type_error.${t === 'number' ? 'float' : t}` }
  })
}

function credentialsOk(header: string | undefined, allowed: string): boolean {
  if (!header?.startsWith('Basic ')) return false
  const given = Buffer.from(Buffer.from(header.slice(6), 'base64').toString('utf8'))
  // Compare against every allowed pair in constant time per pair (A1111 uses secrets.compare_digest).
  return allowed.split(',').some((pair) => {
    const want = Buffer.from(pair)
    return want.length === given.length && timingSafeEqual(want, given)
  })
}

function securityHooks(app: FastifyInstance, ctx: ServerContext): void {
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin
    if (origin && ctx.corsOrigins.includes(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin').header('access-control-allow-credentials', 'true')
      if (req.method === 'OPTIONS') {
        reply.header('access-control-allow-methods', '*').header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? '*')
        return reply.code(204).send()
      }
    }
    if (ctx.auth !== undefined && !credentialsOk(req.headers.authorization, ctx.auth)) {
      throw new AuthError(req.headers.authorization ? 'Incorrect username or password' : 'Not authenticated')
    }
  })
}

export function buildApp(ctx: ServerContext, log: (e: unknown) => void): FastifyInstance {
  const app = Fastify({
    bodyLimit: ctx.limits.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, allErrors: true, removeAdditional: false } },
    logger: false,
    // SSE streams and clients waiting on a job must not hold a stopping server open.
    forceCloseConnections: true,
    // Fastify's default is no limit: a client trickling a body would hold its connection forever (slowloris). The
    // timeout covers receiving the request only, not a long answer (SSE, a blocking txt2img). Node checks it on an
    // interval, so a slow sender is cut between the timeout and 1.25 × the timeout.
    requestTimeout: ctx.limits.requestTimeoutMs,
    http: { headersTimeout: ctx.limits.requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.floor(ctx.limits.requestTimeoutMs / 4)) },
  })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBody)
  securityHooks(app, ctx)
  app.setErrorHandler((err: Error & { validation?: unknown[]; code?: string; statusCode?: number }, _req, reply) => {
    let e: unknown = err
    if (Array.isArray(err.validation)) e = new RequestValidationError(toIssues(err.validation as never))
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new LimitError(`request body is over the server's limit of ${ctx.limits.bodyLimit} bytes (--body-limit)`)
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new RequestValidationError([{ loc: ['body'], msg: 'send the body as application/json', type: 'value_error.content_type' }])
    const answer = toHttpAnswer(e, log)
    reply.code(err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : answer.status).headers(answer.headers ?? {}).send(answer.body)
  })
  app.setNotFoundHandler(() => { throw new NotFoundError('Not Found') })
  a1111ListRoutes(app, ctx)
  a1111OptionRoutes(app, ctx)
  a1111GenerateRoutes(app, ctx)
  jobRoutes(app, ctx)
  webLibraryRoutes(app, ctx)
  webUiRoutes(app)
  return app
}
