/**
 * sdloom's own async API beside A1111's blocking one: POST /sdloom/v1/jobs (A1111 txt2img fields; images are saved
 * by default) answers 202 with the job id at once; GET shows state, queue position and images; DELETE cancels
 * (queued: at once; running: at the next step); GET /sdloom/v1/events is a Server-Sent Events stream of every job's
 * progress, previews (base64 PNG) and images (`?job=ID` for one job); GET /sdloom/v1/images is the gallery (newest first).
 */
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { JobNotFoundError, type JobRecord } from '../../jobs/job-store.ts'
import type { ServerContext } from '../context.ts'
import type { GenerationResult, JobEvent } from '../generation.ts'
import { LimitError, NotFoundError } from '../http-errors.ts'
import { NATIVE_JOB_SCHEMA, type Txt2ImgBody } from '../txt2img-schema.ts'
import { acceptGeneration, txt2imgRouteOptions } from './a1111-generate.ts'

/** The txt2img route's options with the jobs API's schema (its defaults are filled before the handler sees the body). */
const jobRouteOptions = { ...txt2imgRouteOptions, schema: { body: NATIVE_JOB_SCHEMA } }

async function jobView(ctx: ServerContext, job: JobRecord) {
  const outputs = await ctx.jobs.outputs(job.id)
  const result = job.result as GenerationResult | undefined
  return {
    id: job.id, kind: job.kind, state: job.state, position: (await ctx.jobs.position(job.id)) ?? null, attempts: job.attempts,
    createdAt: job.createdAt, startedAt: job.startedAt ?? null, finishedAt: job.finishedAt ?? null, error: job.error ?? null,
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
    const limit = Math.min(500, Math.max(1, Number((req.query as { limit?: string }).limit ?? 50) || 50))
    return Promise.all((await ctx.jobs.list({ limit })).map((j) => jobView(ctx, j)))
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
    const limit = Math.min(500, Math.max(1, Number((req.query as { limit?: string }).limit ?? 50) || 50))
    return (await ctx.jobs.recentOutputs(limit)).map((o) => ({
      jobId: o.jobId, index: o.index, seed: o.seed, infotext: o.infotext, createdAt: o.createdAt, url: o.file ? `/sdloom/v1/jobs/${o.jobId}/images/${o.index}` : null,
    }))
  })
  eventStream(app, ctx)
}
