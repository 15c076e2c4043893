/*
 * EngineClient: the EngineApi of an Engine running in a worker thread (worker.ts), so the caller's event loop stays
 * live while onnxruntime blocks the worker for whole network calls. Names are resolved here, on the caller's side
 * (its resolver may be a database); the worker gets files. Events arrive as they happen (images and previews
 * transferred, not copied); an abort stops the worker's job at its next sampling step and rejects with the caller's
 * own abort reason.
 */
import { Worker } from 'node:worker_threads'
import { env as ortEnv } from 'onnxruntime-node'
import { InputError } from '../core/errors.ts'
import { loraRequestsFromPrompt } from '../pipeline/extra-networks-resolve.ts'
import type { EngineApi, GenerateOptions, GeneratedImage, GenerationRequest, GenerationResult, LoadedModelStatus, ModelResolver } from './contract.ts'
import { validateRequest } from './validate.ts'
import { fromWire, type FromWorker, type ResolvedFiles, type ToWorker, type WorkerConfig } from './worker-protocol.ts'

export interface EngineClientOptions extends WorkerConfig {
  readonly resolver: ModelResolver
}

interface Pending {
  readonly resolve: (m: FromWorker) => void
  readonly reject: (e: unknown) => void
  readonly onMessage?: (m: FromWorker) => void
}

/** The worker's module next to this one, in the same form (.ts under tsx, .js once built). */
const FROM_SOURCE = import.meta.url.endsWith('.ts')
const workerUrl = (): URL => new URL(`./worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url)
/**
 * Run from source (tests, `npm run sdloom`), the worker needs tsx's loader too: a worker inherits neither the
 * module hooks nor, on Node 20, a working `--import tsx`, so a two-line bootstrap registers tsx, then imports it.
 */
function startWorker(workerData: WorkerConfig): Worker {
  if (!FROM_SOURCE) return new Worker(workerUrl(), { workerData })
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const code = `import(${tsx}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl().href)}) })`
  return new Worker(code, { eval: true, workerData })
}

export class EngineClient implements EngineApi {
  private readonly worker: Worker
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private failure: Error | undefined

  constructor(private readonly opts: EngineClientOptions) {
    const { resolver: _, ...config } = opts
    this.worker = startWorker({ ...config, ortLogLevel: ortEnv.logLevel })
    this.worker.on('message', (m: FromWorker) => this.receive(m))
    this.worker.on('error', (e) => this.failAll(e))
    this.worker.on('exit', (code) => this.failAll(new Error(`the engine worker exited (code ${code})`)))
  }

  private receive(m: FromWorker): void {
    const p = this.pending.get(m.id)
    if (!p) return
    if (m.t === 'event') { p.onMessage?.(m); return }
    this.pending.delete(m.id)
    if (m.t === 'error') p.reject(Object.assign(fromWire(m.error), { aborted: m.error.aborted === true }))
    else p.resolve(m)
  }

  private failAll(e: Error): void {
    this.failure ??= e
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
  }

  private call(message: ToWorker, onMessage?: (m: FromWorker) => void): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject, onMessage })
      this.worker.postMessage(message)
    })
  }

  async generate(request: GenerationRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    const req = validateRequest(request)
    const files = await this.resolve(req)
    options.signal?.throwIfAborted()
    const id = this.nextId++
    const images: GeneratedImage[] = []
    const abortFlag = new Int32Array(new SharedArrayBuffer(4))
    const onAbort = (): void => { Atomics.store(abortFlag, 0, 1); this.worker.postMessage({ t: 'abort', id } satisfies ToWorker) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const done = await this.call({ t: 'generate', id, request: req, files, abortFlag }, (m) => {
        if (m.t !== 'event') return
        if (m.event.type === 'image') images.push(m.event.image)
        void options.onEvent?.(m.event)
      })
      if (done.t !== 'generated') throw new Error(`unexpected reply ${done.t}`)
      return { ...done.result, images }
    } catch (e) {
      if ((e as { aborted?: boolean }).aborted && options.signal?.aborted) throw options.signal.reason
      throw e
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Every name of the request → a file, through the caller's resolver (the worker resolves nothing itself). */
  private async resolve(req: GenerationRequest): Promise<ResolvedFiles> {
    const r = this.opts.resolver
    const loras: Record<string, string> = {}
    const names = [...(req.loras ?? []).map((l) => l.name), ...loraRequestsFromPrompt(req.prompt).map((l) => l.name!)]
    for (const name of names) {
      const file = await r.lora(name)
      if (file === undefined) throw new InputError([{ code: 'not-found', path: ['loras'], message: `LoRA "${name}" not found` }])
      loras[name] = file
    }
    const vae = req.vae === undefined || req.vae === 'Automatic' ? undefined : await r.vae(req.vae)
    const checkpoint = await r.checkpoint(req.model)
    const checkpoints: Record<string, string> = { [req.model]: checkpoint }
    for (const name of [req.refiner, req.mode === 'txt2img' ? req.hires?.checkpoint : undefined]) {
      if (name !== undefined) checkpoints[name] = await r.checkpoint(name)
    }
    const upscaler = req.mode === 'txt2img' ? req.hires?.upscaler : undefined
    const upscalerFile = upscaler !== undefined ? await r.upscaler?.(upscaler) : undefined
    // the model's family is known only once it is loaded (in the worker): both families' TAESD files go along
    const taesd = req.previewMethod === 'taesd' && r.taesd ? { sd: await r.taesd('sd'), sdxl: await r.taesd('sdxl') } : undefined
    return {
      checkpoint, checkpointSha256: await r.knownSha256?.(checkpoint), checkpoints, vae, loras, embeddingsDir: await r.embeddingsDir(), taesd,
      ...(upscalerFile !== undefined ? { upscalers: { [upscaler!]: upscalerFile } } : {}),
    }
  }

  async loadedModels(): Promise<readonly LoadedModelStatus[]> {
    const m = await this.call({ t: 'loaded', id: this.nextId++ })
    return m.t === 'loaded' ? m.models : []
  }

  async unload(file?: string): Promise<void> {
    await this.call({ t: 'unload', id: this.nextId++, file })
  }

  /** Unloads every model and ends the worker thread. */
  async close(): Promise<void> {
    if (this.failure) return
    await this.unload()
    this.failure = new Error('EngineClient is closed')
    await this.worker.terminate()
  }
}
