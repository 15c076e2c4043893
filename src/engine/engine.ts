/*
 * The Engine: what every face (the CLI, `sdloom serve`, `sdloom worker`) drives. It owns one tokenizer, a model
 * cache under a byte budget (model-cache.ts) and, through each cached model's queue, runs one job at a time per
 * model in arrival order; jobs on different models run side by side (on a CPU they share the cores).
 * Requests are plain data (contract.ts), checked once (validate.ts); names become files through the ModelResolver.
 * This class runs in the caller's thread: onnxruntime-node blocks it during every network call. A process that must
 * stay responsive (a server) holds an EngineClient instead (client.ts), which runs this Engine in a worker thread.
 */
import { totalmem } from 'node:os'
import { createClipTokenizer, type ClipTokenizer } from '../prompt/index.ts'
import { hashFile } from '../tools/hash.ts'
import type { EngineApi, EngineEvent, GenerateOptions, GenerationRequest, GenerationResult, LoadedModelStatus, ModelResolver } from './contract.ts'
import { runGeneration } from './generation.ts'
import { ModelCache, type Loader } from './model-cache.ts'
import { validateRequest } from './validate.ts'
import { useVae } from './vae-switch.ts'
import { PreviewDecoders, settled, type PendingEvent } from './previews.ts'

export interface EngineOptions {
  readonly resolver: ModelResolver
  /** The CLIP tokenizer folder (vocab.json, merges.txt). */
  readonly tokenizerDir: string
  /** Bytes of weights the cache may hold before it evicts the least recently used idle model; default half the RAM. */
  readonly budgetBytes?: number
  /**
   * One request then done (the CLI): sessions released between phases, weights dropped once no later phase needs
   * them, LoRAs merged into the base weights in place, and the model unloaded after the request. Default false (a
   * long-lived process: sessions, weights, LoRA state and conditionings stay for the next request).
   */
  readonly oneShot?: boolean
  /** Read and write the hash cache (tools/hash.ts) for the infotext's hashes; default true. */
  readonly hashCache?: boolean
  /** Replaces loadModel (tests count loads). */
  readonly loader?: Loader
  /** onnxruntime threads of the preview decoder (default: all cores; the loader sets the model's). */
  readonly threads?: number
}

/**
 * The caller's onEvent, in order. An event is handed over at once (inside the pipeline's callback, so a handler that
 * aborts at step N stops the job before step N + 1) unless a step whose TAESD preview is still decoding is ahead of
 * it; then it waits its turn. A handler may return a promise (a face writing each image as it comes): awaited here.
 */
function orderedEmitter(onEvent: GenerateOptions['onEvent']): (e: PendingEvent) => Promise<void> {
  let waiting = 0
  let tail: Promise<void> = Promise.resolve()
  return (e) => {
    if (waiting === 0 && !(e.type === 'step' && e.preview instanceof Promise)) {
      try { return Promise.resolve(onEvent?.(e as EngineEvent) as unknown).then(() => undefined) } catch (err) { return Promise.reject(err) }
    }
    waiting++
    const run = tail.then(async () => { await (onEvent?.(await settled(e)) as unknown) })
    tail = run.catch(() => undefined).finally(() => { waiting-- })
    return run
  }
}

export class Engine implements EngineApi {
  readonly cache: ModelCache
  /** TAESD decoders for previews, one per latent family, kept across requests. */
  readonly previews: PreviewDecoders
  private readonly tokenizer: ClipTokenizer
  private closed = false

  constructor(private readonly opts: EngineOptions) {
    this.cache = new ModelCache({ budgetBytes: opts.budgetBytes ?? totalmem() / 2, load: opts.loader, hashCache: opts.hashCache })
    this.tokenizer = createClipTokenizer(opts.tokenizerDir)
    this.previews = new PreviewDecoders(opts.threads)
  }

  generate(request: GenerationRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.generateWith(this.opts.resolver, request, options)
  }

  /** The same with another resolver for this request (the worker's: names its caller resolved already). */
  async generateWith(resolver: ModelResolver, request: GenerationRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    if (this.closed) throw new Error('Engine.generate after close()')
    const req = validateRequest(request)
    const emit = orderedEmitter(options.onEvent)
    const file = await resolver.checkpoint(req.model)
    const vae = req.vae === undefined || req.vae === 'Automatic' ? undefined : await resolver.vae(req.vae)
    await emit({ type: 'phase', phase: 'load', label: file })
    const handle = await this.cache.acquire({ file, vae, prediction: req.prediction, weights: req.weights }, {
      onProgress: (done, total) => { void emit({ type: 'phase', phase: 'load', done, total }) },
      onHash: (done, total) => { void emit({ type: 'phase', phase: 'hash', label: file, done, total }) },
      ...(resolver.knownSha256 ? { knownSha256: () => resolver.knownSha256!(file) } : {}),
    })
    try {
      return await handle.queue.run(async () => {
        // this request's path (its content checked to be the model's): the infotext names the checkpoint asked for,
        // and a later read of the file (the VAE encoder's weights) goes to a path that holds this content now
        if (handle.model.file !== file) handle.model = { ...handle.model, file }
        const switched = await useVae(handle, file, vae)
        if (switched) await emit({ type: 'log', message: switched })
        const previews = req.previewEvery ? await this.previews.previewer(req.previewMethod ?? 'cheap', handle.model.arch, resolver) : undefined
        if (previews?.warning) await emit({ type: 'warning', message: previews.warning })
        // the infotext's model hash is the identity's first 10 hex digits (A1111's AutoV2): never a second pass over the file
        handle.hashes ??= { model: handle.sha256.slice(0, 10), vae: vae && (await hashFile(vae, ['autov2'], { cache: this.opts.hashCache ?? true })).autov2 }
        const result = await runGeneration(handle, req, {
          tokenizer: this.tokenizer, resolver, oneShot: this.opts.oneShot ?? false, hashCache: this.opts.hashCache ?? true, emit, signal: options.signal, local: options.local,
          preview: previews?.preview, load: (refiner) => this.cache.loadUncached({ file: refiner }),
        })
        return previews?.warning ? { ...result, warnings: [previews.warning, ...result.warnings] } : result
      })
    } finally {
      this.cache.release(handle)
      if (this.opts.oneShot) await this.cache.drop(handle)
    }
  }

  async loadedModels(): Promise<readonly LoadedModelStatus[]> {
    return (await this.cache.handles()).map((h) => ({ file: h.model.file, sha256: h.sha256, arch: h.model.arch, bytes: h.bytes, lastUsed: h.lastUsed }))
  }

  unload(file?: string): Promise<void> { return this.cache.unload(file) }

  async close(): Promise<void> {
    this.closed = true
    await this.cache.unload()
    await this.previews.release()
  }
}
