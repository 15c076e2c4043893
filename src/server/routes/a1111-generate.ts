/**
 * A1111's generation routes: txt2img and img2img (blocking: the job row is committed before any work, then the
 * answer waits for it; a client that disconnects does not stop it), progress, interrupt, skip, and png-info.
 */
import type { FastifyInstance } from 'fastify'
import { SdError } from '../../core/errors.ts'
import { parseInfotext } from '../../image/infotext.ts'
import { readPngTexts } from '../../image/png-chunks.ts'
import type { JobRecord } from '../../jobs/job-store.ts'
import { waitForJob, type ServerContext } from '../context.ts'
import type { GenerationResult } from '../generation.ts'
import { ShuttingDownError } from '../http-errors.ts'
import { toImg2ImgPayload } from '../img2img-request.ts'
import type { GenerationJobPayload, MapContext } from '../request-base.ts'
import { IMG2IMG_SCHEMA, TXT2IMG_SCHEMA, truncateIntegers, type Txt2ImgBody } from '../txt2img-schema.ts'
import { toGenerationPayload } from '../txt2img-request.ts'
import { checkpointFor } from './a1111-options.ts'

/** Characters of text png-info reads from one upload (an A1111 infotext is a few KB; a ComfyUI workflow, hundreds). */
const PNG_INFO_MAX_TEXT = 4 * 1024 * 1024

/** A failed job's stored error, raised again so http-errors.ts maps it by its name like any other. */
class JobFailedError extends SdError {
  constructor(name: string, message: string) {
    super(message)
    this.name = name
  }
}

export const txt2imgRouteOptions = {
  schema: { body: TXT2IMG_SCHEMA },
  preValidation: async (req: { body: unknown }) => { truncateIntegers(req.body) },
}

export const img2imgRouteOptions = { ...txt2imgRouteOptions, schema: { body: IMG2IMG_SCHEMA } }

async function mapContext(ctx: ServerContext, body: Txt2ImgBody): Promise<MapContext> {
  if (!ctx.accepting) throw new ShuttingDownError('the server is shutting down and takes no new jobs')
  const options = ctx.options.withOverrides(body.override_settings ?? undefined)
  return { options, limits: ctx.limits, styles: await ctx.styles(), checkpoint: (ref) => checkpointFor(ctx, ref) }
}

/** Validates and maps a txt2img body, then commits the job row; the caller wakes the runner. */
export async function acceptGeneration(ctx: ServerContext, body: Txt2ImgBody, face: GenerationJobPayload['face']): Promise<JobRecord<GenerationJobPayload>> {
  const payload = toGenerationPayload(body, face, await mapContext(ctx, body))
  return ctx.jobs.enqueue('txt2img', payload, { maxQueued: ctx.limits.maxQueue })
}

/** The same for an img2img body (its pictures decoded and checked before the row is written). */
export async function acceptImg2Img(ctx: ServerContext, body: Txt2ImgBody, face: GenerationJobPayload['face']): Promise<JobRecord<GenerationJobPayload>> {
  const payload = await toImg2ImgPayload(body, face, await mapContext(ctx, body))
  return ctx.jobs.enqueue('img2img', payload, { maxQueued: ctx.limits.maxQueue })
}

/** The jobs API's one entry: a body with init_images is img2img, any other txt2img. */
export const acceptJob = (ctx: ServerContext, body: Txt2ImgBody, face: GenerationJobPayload['face']): Promise<JobRecord<GenerationJobPayload>> =>
  (body.init_images !== undefined && body.init_images !== null ? acceptImg2Img : acceptGeneration)(ctx, body, face)

export function settledError(job: JobRecord): JobFailedError {
  return new JobFailedError(job.error?.name ?? 'InternalError', job.error?.message ?? 'the job failed')
}

function pngInfo(image: string) {
  const b64 = image.replace(/^data:image\/[a-z]+;base64,/, '')
  if (b64.trim() === '') return { info: '', items: {}, parameters: {} }
  // An upload's text is bounded tighter than PIL's 64 MiB: 4 KB of zTXt would otherwise inflate to 64 MiB of answer.
  const texts = readPngTexts(Buffer.from(b64, 'base64'), 'image', PNG_INFO_MAX_TEXT)
  const info = texts.find((t) => t.keyword === 'parameters')?.text ?? ''
  const items = Object.fromEntries(texts.filter((t) => t.keyword !== 'parameters').map((t) => [t.keyword, t.text]))
  if (info === '') return { info, items, parameters: {} }
  const parsed = parseInfotext(info)
  const size = /^(\d+)x(\d+)$/.exec(parsed.fields.Size ?? '')
  const parameters = {
    Prompt: parsed.prompt, 'Negative prompt': parsed.negativePrompt, ...parsed.fields, ...(size ? { 'Size-1': size[1], 'Size-2': size[2] } : {}),
  }
  return { info, items, parameters }
}

export function a1111GenerateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const blocking = (accept: typeof acceptGeneration) => async (req: { body: unknown }) => {
    const body = req.body as Txt2ImgBody
    const job = await accept(ctx, body, 'a1111')
    const send = body.send_images !== false
    if (send) ctx.pngs.set(job.id, [])
    ctx.runner.wake()
    const settled = await waitForJob(ctx, job.id)
    const pngs = ctx.pngs.get(job.id) ?? []
    ctx.pngs.delete(job.id)
    if (settled.state === 'failed' || settled.result === undefined) throw settledError(settled)
    const result = settled.result as GenerationResult
    return { images: send ? pngs.map((b) => Buffer.from(b).toString('base64')) : [], parameters: job.payload.parameters, info: result.info }
  }
  app.post('/sdapi/v1/txt2img', txt2imgRouteOptions, blocking(acceptGeneration))
  app.post('/sdapi/v1/img2img', img2imgRouteOptions, blocking(acceptImg2Img))
  app.get('/sdapi/v1/progress', async (req) => {
    const q = req.query as { skip_current_image?: string }
    const queued = (await ctx.jobs.counts()).queued
    return ctx.progress.snapshot(q.skip_current_image === 'true' || q.skip_current_image === 'True', queued)
  })
  app.post('/sdapi/v1/interrupt', async () => {
    const id = ctx.runner.currentJobId
    if (id !== undefined) { ctx.progress.interrupted = true; await ctx.runner.cancel(id, new Error('interrupted')) }
    return {}
  })
  app.post('/sdapi/v1/skip', async () => { ctx.skipHolder.skip?.(); return null })
  app.post('/sdapi/v1/png-info', { schema: { body: { type: 'object', properties: { image: { type: 'string' } }, required: ['image'] } } },
    async (req) => pngInfo((req.body as { image: string }).image))
}
