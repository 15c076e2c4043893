/*
 * What a `generate` run is doing, from its first second (issue #14): each phase (load, LoRA merge, hash, encode,
 * sample, decode) is shown as it starts.
 *  - on a TTY: a spinner with the seconds spent for phases without counts, a bar for the others (tensors loaded,
 *    layers merged, bytes hashed, steps), with an honest s/it for
 *    sampling (the clock starts when sampling starts, so the first, slow step is counted, and s/it is seconds per
 *    sampler step, as A1111's tqdm shows it, whatever number of model calls a step makes);
 *  - not a TTY: one plain line per phase ("phase: encode") and the sampling bar's summary line at its end;
 *  - with --json: one JSON object per line on stderr ({"event":"phase",…}, {"event":"step",…}); stdout keeps the
 *    final result alone.
 * A spinner only turns when the event loop is free: a step or a decode is one synchronous onnxruntime call.
 */
import { progressBar, type Progress } from '../core/progress.ts'

export type PhaseName = 'load' | 'lora' | 'hash' | 'encode' | 'sample' | 'decode'

const LABELS: Record<PhaseName, string> = { load: 'loading', lora: 'merging LoRA layers', hash: 'hashing', encode: 'encoding the prompt', sample: 'sampling', decode: 'decoding' }
const FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'

export interface PhaseProgress {
  /** A phase starts (ends the one before). `detail` names what it works on ("batch 2/3", a file name). */
  phase(name: PhaseName, detail?: string): void
  /** Sampler step `step` of `steps` is done (in the load and LoRA phases: tensors, layers). */
  step(step: number, steps: number): void
  /** Bytes done of a phase measured in bytes (hashing). */
  bytes(done: number, total: number): void
  end(): void
}

export interface PhaseProgressOptions {
  readonly json: boolean
  readonly stream?: NodeJS.WriteStream
  readonly now?: () => number
}

export function phaseProgress(opts: PhaseProgressOptions): PhaseProgress {
  const stream = opts.stream ?? process.stderr
  const now = opts.now ?? (() => performance.now())
  const tty = stream.isTTY === true && !opts.json
  let current: { name: PhaseName; label: string; start: number; lastStep: number; lastAt?: number; bar?: Progress; timer?: NodeJS.Timeout } | undefined
  const event = (e: Record<string, unknown>): void => { stream.write(`${JSON.stringify(e)}\n`) }

  const stop = (): void => {
    if (!current) return
    clearInterval(current.timer)
    if (current.bar) current.bar.end()
    else if (tty) stream.write(`\r${current.label} ${((now() - current.start) / 1000).toFixed(1)} s\x1b[K\n`)
    current = undefined
  }

  return {
    phase(name, detail) {
      stop()
      const label = detail ? `${LABELS[name]} ${detail}` : LABELS[name]
      current = { name, label, start: now(), lastStep: 0 }
      if (opts.json) { event({ event: 'phase', phase: name, ...(detail ? { detail } : {}) }); return }
      if (!tty) { stream.write(`phase: ${name}${detail ? ` (${detail})` : ''}\n`); return }
      if (name === 'sample' || name === 'load' || name === 'lora') return // a bar appears with the first count, timed from now
      let frame = 0
      const draw = (): void => {
        if (!current) return
        stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${current.label} ${((now() - current.start) / 1000).toFixed(0)} s\x1b[K`)
      }
      draw()
      current.timer = setInterval(draw, 100)
      current.timer.unref()
    },
    step(step, steps) {
      if (!current) return
      if (step <= current.lastStep) { // a second pass (hires fix) counts from 1 again: time it from the last step
        current.bar?.end()
        current = { ...current, label: `${current.label} (second pass)`, start: current.lastAt ?? now(), bar: undefined }
      }
      current.lastStep = step
      current.lastAt = now()
      const secondsPerStep = (now() - current.start) / 1000 / step
      if (opts.json) {
        if (current.name === 'sample') event({ event: 'step', step, steps, secondsPerStep: Number(secondsPerStep.toFixed(3)) })
        return
      }
      clearInterval(current.timer)
      current.bar ??= progressBar({ label: current.label, total: steps, stream, start: current.start, now })
      current.bar.tick(step)
    },
    bytes(done, total) {
      if (!current || opts.json) return
      clearInterval(current.timer)
      current.bar ??= progressBar({ label: current.label, total, stream, unit: 'bytes', start: current.start, now })
      current.bar.tick(done)
    },
    end: stop,
  }
}
