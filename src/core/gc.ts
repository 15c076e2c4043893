import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

let gc: (() => void) | undefined

/**
 * Runs a full garbage collection now. Dropped weight arrays (gigabytes of ArrayBuffers) are only returned to the OS
 * when V8 collects them, and V8 does not know that the next phase (onnxruntime's native activations) needs the room;
 * without this the peak depends on GC timing.
 */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}
