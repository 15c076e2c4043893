/**
 * A1111's `/sdapi/v1/progress` (a1111-api.md §6) over the running job: progress = min(1, 0.01 + job_no/job_count +
 * sampling_step/sampling_steps/job_count), eta_relative = elapsed/progress − elapsed, both 0 when idle. A1111's
 * "job" is one batch (n_iter); the live preview is the latest one the engine sent, as a base64 PNG.
 */
import { encodePng } from '../image/png.ts'
import type { RgbImage } from '../engine/contract.ts'

export interface A1111Progress {
  readonly progress: number
  readonly eta_relative: number
  readonly state: {
    readonly skipped: boolean; readonly interrupted: boolean; readonly stopping_generation: boolean; readonly job: string
    readonly job_count: number; readonly job_timestamp: string; readonly job_no: number; readonly sampling_step: number; readonly sampling_steps: number
  }
  readonly current_image: string | null
  readonly textinfo: string | null
}

/** YYYYmmddHHMMSS in local time, as A1111's job_timestamp. */
export const jobTimestamp = (d = new Date()): string =>
  [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()].map((n, i) => String(n).padStart(i === 0 ? 4 : 2, '0')).join('')

export class ProgressState {
  jobId: string | undefined
  private jobCount = 0
  private jobNo = 0
  private step = 0
  private steps = 0
  private started = 0
  private timestamp = '0'
  private preview: RgbImage | undefined
  private previewPng: string | null = null
  interrupted = false
  skipped = false
  phase = ''

  begin(jobId: string, batches: number): void {
    Object.assign(this, { jobId, jobCount: batches, jobNo: 0, step: 0, steps: 0, started: Date.now(), timestamp: jobTimestamp(), preview: undefined, previewPng: null, interrupted: false, skipped: false, phase: '' })
  }

  batch(no: number): void {
    this.jobNo = no
    this.step = 0
    this.skipped = false
  }

  sampled(step: number, steps: number, preview: RgbImage | undefined): void {
    this.step = step
    this.steps = steps
    if (preview) { this.preview = preview; this.previewPng = null }
  }

  end(): void {
    Object.assign(this, { jobId: undefined, jobCount: 0, jobNo: 0, step: 0, steps: 0, preview: undefined, previewPng: null, phase: '' })
  }

  /** The latest preview as base64 PNG, encoded once per new preview. */
  currentImage(): string | null {
    if (this.preview && this.previewPng === null) this.previewPng = Buffer.from(encodePng(this.preview)).toString('base64')
    return this.previewPng
  }

  fraction(): number {
    if (this.jobCount === 0) return 0
    const inBatch = this.steps > 0 ? this.step / this.steps / this.jobCount : 0
    return Math.min(1, 0.01 + this.jobNo / this.jobCount + inBatch)
  }

  snapshot(skipCurrentImage: boolean, queued: number): A1111Progress {
    const progress = this.fraction()
    const elapsed = (Date.now() - this.started) / 1000
    return {
      progress,
      eta_relative: progress > 0 ? elapsed / progress - elapsed : 0,
      state: {
        skipped: this.skipped, interrupted: this.interrupted, stopping_generation: false, job: this.jobId ? `${this.phase}` : '',
        job_count: this.jobCount, job_timestamp: this.timestamp, job_no: this.jobNo, sampling_step: this.step, sampling_steps: this.steps,
      },
      current_image: skipCurrentImage ? null : this.currentImage(),
      textinfo: queued > 0 ? `In queue: ${queued}` : null,
    }
  }
}
