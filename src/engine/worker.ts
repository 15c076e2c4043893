/*
 * The worker thread's side of EngineClient: one Engine, fed by messages (worker-protocol.ts). Everything that blocks
 * (model loading, every onnxruntime call) happens here, so the caller's event loop keeps running.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { env as ortEnv } from 'onnxruntime-node'
import { loadModel } from '../pipeline/load-model.ts'
import type { ModelResolver } from './contract.ts'
import { Engine } from './engine.ts'
import { toWire, transferables, type FromWorker, type ResolvedFiles, type ToWorker, type WorkerConfig } from './worker-protocol.ts'

const config = workerData as WorkerConfig
// before any session: the caller's onnxruntime log level (this thread has its own onnxruntime env)
if (config.ortLogLevel) ortEnv.logLevel = config.ortLogLevel
const port = parentPort!
const aborts = new Map<number, AbortController>()

/** A name's file in a map the caller made (own keys only: a name such as "__proto__" finds nothing). */
const own = (map: Readonly<Record<string, string>> | undefined, name: string): string | undefined =>
  map !== undefined && Object.hasOwn(map, name) ? map[name] : undefined

/** Resolves only what the caller resolved already: the worker never looks names up itself. */
const resolvedOnly = (files: ResolvedFiles): ModelResolver => ({
  // every checkpoint name of the request (model, refiner, hires checkpoint) was resolved by the caller; another name
  // reaching here is a defect, not a reason to run the request's model under it
  checkpoint: async (ref) => {
    const file = own(files.checkpoints, ref)
    if (file === undefined) throw new Error(`engine worker: checkpoint "${ref}" was not resolved by the caller`)
    return file
  },
  upscaler: async (name) => own(files.upscalers, name),
  vae: async (ref) => files.vae ?? ref,
  lora: async (name) => own(files.loras, name),
  embeddingsDir: async () => files.embeddingsDir,
  knownSha256: async (file) => (file === files.checkpoint ? files.checkpointSha256 : undefined),
  taesd: async (family) => files.taesd?.[family],
})

const engine = new Engine({
  tokenizerDir: config.tokenizerDir, budgetBytes: config.budgetBytes, hashCache: config.hashCache, threads: config.threads,
  resolver: resolvedOnly({ checkpoint: '', checkpoints: {}, loras: {} }), // every request brings its own (generateWith)
  loader: (spec, opts) => loadModel(spec.file, { vae: spec.vae, prediction: spec.prediction, weights: spec.weights, threads: config.threads, ...opts }),
})

const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer)

async function generate(m: Extract<ToWorker, { t: 'generate' }>): Promise<void> {
  const controller = new AbortController()
  aborts.set(m.id, controller)
  try {
    const result = await engine.generateWith(resolvedOnly(m.files), m.request, {
      signal: controller.signal,
      onEvent: (event) => {
        // the caller's abort, read where the sampler calls back (worker-protocol.ts: the message would come a step late)
        if (m.abortFlag && Atomics.load(m.abortFlag, 0) === 1 && !controller.signal.aborted) controller.abort(new Error('aborted by the caller'))
        send({ t: 'event', id: m.id, event }, transferables(event))
      },
    })
    // The images went out (transferred) as events; the client puts them back into the result.
    send({ t: 'generated', id: m.id, result: { ...result, images: [] } })
  } catch (e) {
    send({ t: 'error', id: m.id, error: toWire(e, controller.signal.aborted) })
  } finally {
    aborts.delete(m.id)
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'generate') void generate(m)
  else if (m.t === 'abort') aborts.get(m.id)?.abort(new Error('aborted by the caller'))
  else if (m.t === 'loaded') void engine.loadedModels().then((models) => send({ t: 'loaded', id: m.id, models }))
  else if (m.t === 'unload') {
    void engine.unload(m.file).then(() => send({ t: 'unloaded', id: m.id }), (e: unknown) => send({ t: 'error', id: m.id, error: toWire(e, false) }))
  }
})
