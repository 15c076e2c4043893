/*
 * Ctrl-C during `generate`/`img2img` (issue #14):
 *  - the first aborts the run's signal: the sampler stops before its next step, a download before its next block,
 *    and no image is written after it (the final decode's result included), so the run ends with exit 130;
 *  - the second ends the process at once. A step is one synchronous onnxruntime call that JavaScript cannot cut short
 *    (nor run a signal listener during), so the first listener removes itself: Node's default SIGINT action is back,
 *    and the next Ctrl-C kills the process even in the middle of a step (the shell reports 130). Nothing is left
 *    half-written: images are written to a temp file renamed into place, and none is started after the first Ctrl-C.
 */
import { SdError } from '../core/errors.ts'

/** Ctrl-C: the run stopped before its next step; nothing half-written is left. */
export class InterruptedError extends SdError {
  override name = 'InterruptedError'
}

export interface CtrlC {
  readonly signal: AbortSignal
  /** Stop listening (the run is over). */
  dispose(): void
}

export function listenForCtrlC(message = 'interrupted (Ctrl-C): stopped after the current step; no image of this batch was written'): CtrlC {
  const controller = new AbortController()
  const first = (): void => {
    process.removeListener('SIGINT', first) // the second Ctrl-C gets Node's default: exit now
    controller.abort(new InterruptedError(message))
  }
  process.on('SIGINT', first)
  return { signal: controller.signal, dispose: () => { process.removeListener('SIGINT', first) } }
}
