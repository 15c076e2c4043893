/**
 * The job handler that runs a generation job through the Engine. Batches (A1111's n_iter) run as one engine call
 * each, seeds continuing as A1111 numbers them (batch b starts at seed + b × batch_size), so `skip` can end the
 * current batch and go on with the next. Each finished image becomes a PNG carrying its infotext (bytes equal to
 * the CLI's for the same parameters: the same encoder and infotext), is saved when asked, and becomes an output row.
 * Events go to the progress state (A1111 /progress) and the event bus (the SSE stream).
 */
import { EventEmitter } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { writeFileAtomic } from '../core/atomic-write.ts'
import { SdError } from '../core/errors.ts'
import { InternalError } from './http-errors.ts'
import type { EngineEvent, GeneratedImage } from '../engine/contract.ts'
import { encodePng } from '../image/png.ts'
import type { JobContext, JobHandler } from '../jobs/runner.ts'
import { outputPaths } from '../pipeline/output-paths.ts'
import { a1111Info, type FinishedImage } from './a1111-info.ts'
import { jobTimestamp } from './progress.ts'
import type { ServerContext } from './context.ts'
import { materialize } from './img2img-request.ts'
import type { GenerationJobPayload } from './request-base.ts'

export interface GenerationResult {
  readonly images: readonly FinishedImage[]
  /** A1111's `info` JSON string. */
  readonly info: string
  readonly interrupted: boolean
  readonly warnings: readonly string[]
}

/** Live job events for the SSE stream: { jobId, type, … }. */
export type JobEvent = { readonly jobId: string } & (
  | { readonly type: 'started' | 'queued' }
  | { readonly type: 'phase'; readonly phase: string; readonly done?: number; readonly total?: number }
  | { readonly type: 'step'; readonly batch: number; readonly batchCount: number; readonly step: number; readonly steps: number; readonly etaSeconds: number; readonly preview?: string }
  | { readonly type: 'image'; readonly index: number; readonly seed: number; readonly file?: string }
  | { readonly type: 'settled'; readonly state: string; readonly error?: string }
)

/** One listener per event stream and per waiting A1111 client: both are bounded (maxEventStreams, maxQueue), not by 10. */
export class JobEvents extends EventEmitter<{ event: [JobEvent] }> {
  constructor() { super(); this.setMaxListeners(0) }
}

/** What the handler needs of the server (start.ts builds the handler before the context, from the same parts). */
export type GenerationDeps = Pick<ServerContext, 'engine' | 'jobs' | 'dataDir' | 'progress' | 'events' | 'pngs' | 'skipHolder' | 'log'>

const dateFolder = (d = new Date()): string =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`

async function keepImage(deps: GenerationDeps, jobId: string, p: GenerationJobPayload, img: GeneratedImage, index: number): Promise<FinishedImage> {
  const png = encodePng(img.rgb, { text: { parameters: img.infotext } })
  deps.pngs.get(jobId)?.push(png)
  let file: string | undefined
  if (p.saveImages) {
    const dir = resolve(deps.dataDir, p.outdir, dateFolder())
    await mkdir(dir, { recursive: true })
    ;[file] = await outputPaths(dir, [img.seed])
    await writeFileAtomic(file, png)
  }
  await deps.jobs.addOutput({ jobId, index, seed: img.seed, infotext: img.infotext, createdAt: Date.now(), ...(file ? { file } : {}) })
  deps.events.emit('event', { jobId, type: 'image', index, seed: img.seed, ...(file ? { file } : {}) })
  return { index, seed: img.seed, infotext: img.infotext, ...(file ? { file } : {}) }
}

function onEngineEvent(deps: GenerationDeps, jobId: string, batch: number, batchCount: number, e: EngineEvent): void {
  if (e.type === 'phase') {
    deps.progress.phase = e.phase
    deps.events.emit('event', { jobId, type: 'phase', phase: e.phase, ...(e.total !== undefined ? { done: e.done, total: e.total } : {}) })
  } else if (e.type === 'step') {
    deps.progress.sampled(e.step, e.steps, e.preview)
    const preview = e.preview ? deps.progress.currentImage() ?? undefined : undefined
    deps.events.emit('event', { jobId, type: 'step', batch, batchCount, step: e.step, steps: e.steps, etaSeconds: e.etaSeconds, ...(preview ? { preview } : {}) })
  }
}

/** One engine call per batch; returns what finished (all of it, or what came before an interrupt). */
async function runBatches(deps: GenerationDeps, jobId: string, p: GenerationJobPayload, ctx: JobContext): Promise<Omit<GenerationResult, 'info'>> {
  const engine = await deps.engine()
  const r = await materialize(p)
  const batchSize = r.batchSize ?? 1
  const batchCount = r.batchCount ?? 1
  const images: FinishedImage[] = []
  const warnings: string[] = []
  for (let b = 0; b < batchCount && !ctx.signal.aborted; b++) {
    deps.progress.batch(b)
    const batchAbort = new AbortController()
    const stop = (): void => batchAbort.abort(ctx.signal.reason)
    ctx.signal.addEventListener('abort', stop)
    deps.skipHolder.skip = () => { deps.progress.skipped = true; batchAbort.abort(new Error('skipped')) }
    const pending: Promise<FinishedImage>[] = []
    try {
      // A1111 numbers seeds and variation seeds over the whole request: image i has seed + i and subseed + i
      const shift = b * batchSize
      const batch = { ...r, seed: (r.seed ?? 0) + shift, ...(r.subseed !== undefined ? { subseed: r.subseed + shift } : {}), batchCount: 1 }
      const result = await engine.generate(batch, {
        signal: batchAbort.signal,
        key: `${jobId}-${b}`,
        // In process the engine awaits the returned promise (each image written before it goes on); over the worker
        // boundary it does not, so the pending writes are also awaited below.
        onEvent: (e) => {
          if (e.type !== 'image') { onEngineEvent(deps, jobId, b, batchCount, e); return undefined }
          const kept = keepImage(deps, jobId, p, e.image, b * batchSize + e.image.index)
          pending.push(kept)
          return kept.then(() => undefined)
        },
      })
      warnings.push(...result.warnings)
    } catch (e) {
      if (!batchAbort.signal.aborted) throw e
    } finally {
      ctx.signal.removeEventListener('abort', stop)
      deps.skipHolder.skip = undefined
      images.push(...await Promise.all(pending))
    }
  }
  return { images, interrupted: ctx.signal.aborted, warnings }
}

export function generationHandler(deps: GenerationDeps): JobHandler {
  return async (job, ctx) => {
    const p = job.payload as GenerationJobPayload
    deps.progress.begin(job.id, p.request.batchCount ?? 1)
    deps.events.emit('event', { jobId: job.id, type: 'started' })
    try {
      const out = await runBatches(deps, job.id, p, ctx)
      const result: GenerationResult = { ...out, info: a1111Info(p, out.images, jobTimestamp()) }
      return result
    } catch (e) {
      // The job row (and so the client) gets SdError messages only: anything else may carry paths or internals.
      if (e instanceof SdError) throw e
      deps.log(`job ${job.id}: internal error: ${(e as Error)?.stack ?? String(e)}`)
      throw new InternalError('internal error while generating; the server log has the details')
    } finally {
      deps.progress.end()
    }
  }
}
