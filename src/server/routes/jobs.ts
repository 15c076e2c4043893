/**
 * sdloom's own async API beside A1111's blocking one: POST /sdloom/v1/jobs (A1111 txt2img fields; images are saved
 * by default) answers 202 with the job id at once; GET shows state, queue position and images; DELETE cancels
 * (queued: at once; running: at the next step); GET /sdloom/v1/events is a Server-Sent Events stream of every job's
 * progress, previews (base64 PNG) and images (`?job=ID` for one job); GET /sdloom/v1/images is the gallery (newest first).
 * POST /sdloom/v1/jobs/:id/move reorders the queue ({position} 1-based, or {before: id}); 409 when the job is not queued.
 * The job list filters by `state`; both lists page with `before` (a job id; an image's `cursor`); the gallery also filters by `q` (text in the
 * infotext: prompt, model, any parameter) and `since`/`until` (ms since the epoch), in the database.
 */
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { InputError } from '../../core/errors.ts'
import { JOB_STATES, JobNotFoundError, JobNotQueuedError, type JobRecord, type JobState, type MoveTarget, type PagedOutput } from '../../jobs/job-store.ts'
import type { ServerContext } from '../context.ts'
import type { GenerationResult, JobEvent } from '../generation.ts'
import { LimitError, NotFoundError } from '../http-errors.ts'
import type { GenerationJobPayload } from '../txt2img-request.ts'
import { NATIVE_JOB_SCHEMA, type Txt2ImgBody } from '../txt2img-schema.ts'
import { acceptGeneration, txt2imgRouteOptions } from './a1111-generate.ts'

/** The txt2img route's options with the jobs API's schema (its defaults are filled before the handler sees the body). */
const jobRouteOptions = { ...txt2imgRouteOptions, schema: { body: NATIVE_JOB_SCHEMA } }

/** What the queue shows of a job: the prompt and the size of the work. */
function summaryOf(job: JobRecord) {
  const r = (job.payload as Partial<GenerationJobPayload> | null)?.request
  if (!r) return null
  return {
    mode: (r as { mode?: string }).mode ?? job.kind, prompt: r.prompt, negativePrompt: r.negativePrompt ?? '', model: (job.payload as GenerationJobPayload).modelTitle ?? r.model,
    width: r.width ?? null, height: r.height ?? null, steps: r.steps ?? null, sampler: r.sampler ?? null,
    images: (r.batchSize ?? 1) * (r.batchCount ?? 1),
  }
}

const galleryImage = (o: PagedOutput) => ({
  jobId: o.jobId, index: o.index, seed: o.seed, infotext: o.infotext, createdAt: o.createdAt, cursor: o.cursor,
  url: o.file ? `/sdloom/v1/jobs/${o.jobId}/images/${o.index}` : null,
})

/** A query-string bound: absent → undefined; present → a finite number, or the message names the parameter. */
function numberParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isFinite(n)) throw new InputError(`${name}: "${value.slice(0, 40)}" is not a number (milliseconds since 1970)`)
  return n
}

const MOVE_SCHEMA = {
  body: {
    type: 'object', additionalProperties: false,
    properties: { position: { type: 'integer', minimum: 1 }, before: { type: 'string', minLength: 1 } },
    oneOf: [{ required: ['position'] }, { required: ['before'] }],
  },
} as const

async function jobView(ctx: ServerContext, job: JobRecord) {
  const outputs = await ctx.jobs.outputs(job.id)
  const result = job.result as GenerationResult | undefined
  return {
    id: job.id, kind: job.kind, state: job.state, position: (await ctx.jobs.position(job.id)) ?? null, attempts: job.attempts,
    summary: summaryOf(job), createdAt: job.createdAt, startedAt: job.startedAt ?? null, finishedAt: job.finishedAt ?? null, error: job.error ?? null,
    images: outputs.map((o) => ({ index: o.index, seed: o.seed, infotext: o.infotext, url: o.file ? `/sdloom/v1/jobs/${job.id}/images/${o.index}` : null })),
    info: result?.info ?? null, warnings: result?.warnings ?? [],
  }
}

async function mustGet(ctx: ServerContext, id: string): Promise<JobRecord> {
  const job = await ctx.jobs.get(id)
  if (!job) throw new JobNotFoundError(id)
  return job
}

function eventStream(app: FastifyInstance, ctx: ServerContext): void {
  let open = 0
  app.get('/sdloom/v1/events', (req, reply) => {
    if (open >= ctx.limits.maxEventStreams) {
      throw new LimitError(`${open} event streams are open, the server's limit (--max-event-streams); close one and retry`)
    }
    open++
    const only = (req.query as { job?: string }).job
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...reply.getHeaders() as Record<string, string> })
    res.write(': sdloom job events\n\n')
    const onEvent = (e: JobEvent): void => {
      if (only === undefined || e.jobId === only) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
    }
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    ctx.events.on('event', onEvent)
    req.raw.on('close', () => { open--; clearInterval(ping); ctx.events.off('event', onEvent) })
  })
}

export function jobRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/sdloom/v1/jobs', jobRouteOptions, async (req, reply) => {
    const body = { ...(req.body as Txt2ImgBody) }
    body.save_images = body.save_images !== false // null (pydantic's Optional) keeps the jobs API's default too
    const job = await acceptGeneration(ctx, body, 'native')
    ctx.events.emit('event', { jobId: job.id, type: 'queued' })
    ctx.runner.wake()
    return reply.code(202).send(await jobView(ctx, job))
  })
  app.get('/sdloom/v1/jobs', async (req) => {
    const q = req.query as { limit?: string; before?: string; state?: string }
    const limit = Math.min(500, Math.max(1, Number(q.limit ?? 50) || 50))
    if (q.state !== undefined && !(JOB_STATES as readonly string[]).includes(q.state)) {
      throw new InputError(`state: "${q.state.slice(0, 40)}" is not a job state; use one of ${JOB_STATES.join(', ')}`)
    }
    const jobs = await ctx.jobs.list({ limit, ...(q.before ? { before: q.before } : {}), ...(q.state ? { state: q.state as JobState } : {}) })
    return Promise.all(jobs.map((j) => jobView(ctx, j)))
  })
  app.post('/sdloom/v1/jobs/:id/move', { schema: MOVE_SCHEMA }, async (req, reply) => {
    const id = (req.params as { id: string }).id
    try {
      const position = await ctx.jobs.move(id, req.body as MoveTarget)
      ctx.events.emit('event', { jobId: id, type: 'queued' })
      return { id, position }
    } catch (e) {
      // 409 Conflict: the request is fine, the job's state is not (it started or finished meanwhile).
      if (e instanceof JobNotQueuedError) return reply.code(409).send({ error: e.name, detail: e.message, body: '', errors: e.message })
      throw e
    }
  })
  app.get('/sdloom/v1/jobs/:id', async (req) => jobView(ctx, await mustGet(ctx, (req.params as { id: string }).id)))
  app.delete('/sdloom/v1/jobs/:id', async (req) => {
    const id = (req.params as { id: string }).id
    await mustGet(ctx, id)
    const outcome = await ctx.runner.cancel(id, new Error('cancelled through the jobs API'))
    return { id, outcome }
  })
  app.get('/sdloom/v1/jobs/:id/images/:index', async (req, reply) => {
    const { id, index } = req.params as { id: string; index: string }
    const out = (await ctx.jobs.outputs(id)).find((o) => String(o.index) === index)
    if (!out?.file) throw new NotFoundError('Not Found')
    return reply.type('image/png').send(await readFile(out.file))
  })
  app.get('/sdloom/v1/images', async (req) => {
    const q = req.query as { limit?: string; before?: string; q?: string; since?: string; until?: string; saved?: string }
    const limit = Math.min(500, Math.max(1, Number(q.limit ?? 50) || 50))
    const since = numberParam('since', q.since)
    const until = numberParam('until', q.until)
    const page = await ctx.jobs.findOutputs({
      limit, ...(q.before ? { before: q.before } : {}), ...(q.q?.trim() ? { text: q.q.trim() } : {}),
      ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), savedOnly: q.saved === 'true' || q.saved === '1',
    })
    return page.map(galleryImage)
  })
  eventStream(app, ctx)
}
