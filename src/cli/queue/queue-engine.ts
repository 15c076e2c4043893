/*
 * The EngineApi of `sdloom serve --queue`: the server stays a producer only. Each engine call (one batch of one
 * job) goes to the BullMQ queue of its checkpoint's sha256 under the call's idempotency key; a worker holding that
 * checkpoint runs it; step events (with previews) come back as they happen and the images with the result, so the
 * server's job handler stores them exactly as in one-machine mode. Names are checked here against the server's
 * library (a missing checkpoint fails at once); the worker gets the hash, not the name or the path.
 */
import { randomUUID } from 'node:crypto'
import { stat } from 'node:fs/promises'
import type { EngineApi, GenerateOptions, GenerationRequest, GenerationResult, LoadedModelStatus, ModelResolver } from '../../engine/contract.ts'
import { validateRequest } from '../../engine/validate.ts'
import type { RedisDispatcher } from '../../jobs/redis-dispatcher.ts'
import { hashFile } from '../../tools/hash.ts'
import { eventFromWire, imageFromWire, jobToWire, type WireEvent, type WireJob, type WireResult } from './wire.ts'

export class QueueEngine implements EngineApi {
  /** sha256 by file, size and mtime: one hashing per file content, however many jobs arrive at once. */
  private readonly hashes = new Map<string, Promise<string>>()

  constructor(private readonly dispatcher: RedisDispatcher, private readonly resolver: ModelResolver) {}

  private async sha256(file: string): Promise<string> {
    const st = await stat(file)
    const sig = `${file}\0${st.size}\0${st.mtimeMs}`
    let h = this.hashes.get(sig)
    if (!h) {
      h = hashFile(file, ['sha256']).then((r) => r.sha256)
      this.hashes.set(sig, h)
      h.catch(() => this.hashes.delete(sig))
    }
    return h
  }

  async generate(request: GenerationRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    const req = validateRequest(request)
    const file = await this.resolver.checkpoint(req.model)
    if (req.vae !== undefined && req.vae !== 'Automatic') await this.resolver.vae(req.vae)
    const sha256 = await this.sha256(file)
    const job: WireJob = jobToWire({ ...req, model: sha256 })
    const raw = await this.dispatcher.run(options.key ?? randomUUID(), sha256, job, {
      signal: options.signal,
      onProgress: (e) => { void options.onEvent?.(eventFromWire(e as WireEvent)) },
    }) as WireResult
    const images = raw.images.map(imageFromWire)
    // In order, each awaited: the handler writes an image before the next (as the in-process engine does).
    for (const image of images) await (options.onEvent?.({ type: 'image', image }) as unknown)
    return { images, model: { file, arch: raw.arch, prediction: raw.prediction }, warnings: raw.warnings }
  }

  /** Models live on the workers: the server itself holds none (`sdloom worker --json` reports each worker's). */
  async loadedModels(): Promise<readonly LoadedModelStatus[]> { return [] }

  async unload(): Promise<void> { /* workers manage their own caches */ }

  close(): Promise<void> { return this.dispatcher.close() }
}
