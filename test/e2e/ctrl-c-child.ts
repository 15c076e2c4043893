/*
 * A stand-in for a generation step: listens for Ctrl-C as `generate` does, and once the first has been seen,
 * blocks the event loop for 20 s the way one synchronous onnxruntime call does.
 */
import { listenForCtrlC } from '../../src/cli/interrupt.ts'

const ctrlC = listenForCtrlC()
ctrlC.signal.addEventListener('abort', () => {
  process.stderr.write(`first: ${(ctrlC.signal.reason as Error).message}\n`)
  setImmediate(() => {
    const until = Date.now() + 20_000
    process.stderr.write('step\n')
    while (Date.now() < until) { /* a long step that JavaScript cannot interrupt */ }
    process.stderr.write('step done\n')
  })
})
setTimeout(() => undefined, 30_000)
process.stderr.write('ready\n')
