/** What every route of one server shares (built once by start.ts). */
import { ShuttingDownError } from './http-errors.ts'
import type { EngineApi } from '../engine/contract.ts'
import type { JobRecord, JobStore } from '../jobs/job-store.ts'
import type { JobRunner } from '../jobs/runner.ts'
import type { Library } from '../library/library.ts'
import type { JobEvents } from './generation.ts'
import type { OptionsStore } from './options-store.ts'
import type { ProgressState } from './progress.ts'
import type { PromptStyle } from './styles.ts'
import type { ServerLimits } from './txt2img-request.ts'

export interface ServerContext {
  readonly library: Library
  readonly jobs: JobStore
  readonly runner: JobRunner
  readonly options: OptionsStore
  readonly progress: ProgressState
  readonly events: JobEvents
  /** PNG bytes of images whose A1111 client waits for them (send_images), by job id. */
  readonly pngs: Map<string, Uint8Array[]>
  /** Ends the running batch only (A1111's skip); set by the generation handler while a batch runs. */
  readonly skipHolder: { skip?: () => void }
  readonly engine: () => Promise<EngineApi>
  readonly limits: ServerLimits
  readonly dataDir: string
  readonly styles: () => Promise<PromptStyle[]>
  /** The command line as `/sdapi/v1/cmd-flags` shows it: flags only, never credentials or paths. */
  readonly cmdFlags: Readonly<Record<string, unknown>>
  /** Basic-auth credentials ("user:pass", several comma-separated as A1111), if any. */
  readonly auth: string | undefined
  /** Allowed browser origins (--cors); none: no CORS headers at all. */
  readonly corsOrigins: readonly string[]
  /** False while shutting down: new jobs are refused with 503. */
  accepting: boolean
  /** Aborted when the server stops: requests waiting for a job answer 503 (the job stays queued for the next start). */
  readonly stopping: AbortSignal
}

/** Resolves when the job reaches a final state (done, failed, cancelled). */
export async function waitForJob(ctx: ServerContext, id: string): Promise<JobRecord> {
  return new Promise((resolve, reject) => {
    const done = (): void => { ctx.events.off('event', onEvent); ctx.stopping.removeEventListener('abort', onStop) }
    const check = (): void => {
      ctx.jobs.get(id).then((j) => {
        if (j && j.state !== 'queued' && j.state !== 'running') { done(); resolve(j) }
      }, (e: unknown) => { done(); reject(e) })
    }
    const onEvent = (e: { jobId: string; type: string }): void => { if (e.jobId === id && e.type === 'settled') check() }
    const onStop = (): void => { done(); reject(new ShuttingDownError(`the server is shutting down; job ${id} stays queued and runs after the restart`)) }
    ctx.events.on('event', onEvent)
    ctx.stopping.addEventListener('abort', onStop)
    check()
  })
}
