/*
 * Loaded checkpoints by content, under a byte budget. The key is the file's SHA-256 (model-identity.ts: a copy or a
 * symlink of a loaded file is the same model; a replaced file is a new one) plus what was fixed at load (prediction
 * override, weight precision). The VAE is not part of it: the first request's VAE is merged at load, and another
 * request's is switched in without a reload (vae-switch.ts). After each load the least recently used models with no job queued are released until
 * the held bytes fit the budget; a model with jobs is never evicted, so the budget can be exceeded while every model
 * is busy.
 */
import { realpath } from 'node:fs/promises'
import { loadModel, type LoadModelOptions, type Prediction, type WeightPrecision } from '../pipeline/load-model.ts'
import { ModelHandle } from './model-handle.ts'
import { ContentIds, isSha256 } from './model-identity.ts'
import { vaeIdentity } from './vae-switch.ts'

export interface ModelSpec {
  readonly file: string
  readonly vae?: string
  readonly prediction?: Prediction
  /** 'int8': weight-only int8 UNet/text encoders (pipeline/load-model.ts); a different cache entry from float32. */
  readonly weights?: WeightPrecision
}

export type Loader = (spec: ModelSpec, opts: Pick<LoadModelOptions, 'onProgress'>) => Promise<ModelHandle['model']>

export interface ModelCacheOptions {
  readonly budgetBytes: number
  /** Replaces loadModel (tests count loads). */
  readonly load?: Loader
  /** Read and write tools/hash.ts's cache file for checkpoint hashes; default true. */
  readonly hashCache?: boolean
}

const defaultLoader: Loader = (spec, opts) => loadModel(spec.file, { vae: spec.vae, prediction: spec.prediction, weights: spec.weights, ...opts })

export interface AcquireOptions {
  /** Tensors loaded of the total. */
  readonly onProgress?: (done: number, total: number) => void
  /** The caller's record of the file's SHA-256 (ModelResolver.knownSha256): nothing is hashed when it has one. */
  readonly knownSha256?: () => Promise<string | undefined>
  /** Bytes hashed of the file's size, only when the file is read to identify it (not when its hash is known). */
  readonly onHash?: (done: number, total: number) => void
}

export class ModelCache {
  private readonly entries = new Map<string, Promise<ModelHandle>>()
  readonly budgetBytes: number
  readonly ids: ContentIds
  private readonly load: Loader

  constructor(opts: ModelCacheOptions) {
    this.budgetBytes = opts.budgetBytes
    this.load = opts.load ?? defaultLoader
    this.ids = new ContentIds(opts.hashCache ?? true)
  }

  /** The cache key of a model: its content and the load-time choices that change its weights or sessions. */
  async key(spec: ModelSpec, opts: AcquireOptions = {}): Promise<{ key: string; sha256: string }> {
    const sha256 = await this.ids.sha256(spec.file, 'model', opts.knownSha256, opts.onHash)
    return { key: [sha256, spec.prediction ?? '', spec.weights ?? 'auto'].join('\t'), sha256 }
  }

  /** `spec` loaded with this cache's loader but not kept (the caller releases it). */
  loadUncached(spec: ModelSpec): Promise<ModelHandle['model']> { return this.load(spec, {}) }

  /**
   * The handle of `spec`, loaded once however many callers ask at the same time. It comes back claimed
   * (`users` + 1, so no eviction sees it idle before the caller's job is queued); the caller calls `release` after.
   */
  async acquire(spec: ModelSpec, opts: AcquireOptions = {}): Promise<ModelHandle> {
    const { onProgress } = opts
    const { key, sha256 } = await this.key(spec, opts)
    let entry = this.entries.get(key)
    const fresh = entry === undefined
    if (!entry) {
      entry = (async () => {
        const vae = { file: spec.vae, identity: await vaeIdentity(spec.vae) }
        const handle = new ModelHandle(key, await this.load(spec, { onProgress }), sha256)
        handle.vae = vae
        return handle
      })()
      this.entries.set(key, entry)
      entry.catch(() => { if (this.entries.get(key) === entry) this.entries.delete(key) })
    }
    const handle = await entry
    handle.files.add(await realpath(spec.file))
    handle.users++
    handle.lastUsed = Date.now()
    if (fresh) await this.evict(handle)
    return handle
  }

  release(h: ModelHandle): void {
    h.users--
    h.lastUsed = Date.now()
  }

  /** The loaded handles (skipping loads in flight). */
  async handles(): Promise<ModelHandle[]> {
    const settled = await Promise.allSettled([...this.entries.values()])
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  }

  get heldBytesEstimate(): Promise<number> { return this.handles().then((hs) => hs.reduce((a, h) => a + h.bytes, 0)) }

  /** Releases least recently used idle models until the held bytes fit the budget (never `keep`). */
  async evict(keep?: ModelHandle): Promise<void> {
    const handles = await this.handles()
    let held = handles.reduce((a, h) => a + h.bytes, 0)
    const idle = handles.filter((h) => h !== keep && h.users === 0 && h.queue.pending === 0).sort((a, b) => a.lastUsed - b.lastUsed)
    for (const h of idle) {
      if (held <= this.budgetBytes) break
      held -= h.bytes
      await this.drop(h)
    }
  }

  /** Forgets a handle and releases its sessions once its queued jobs are done (its weights go with the last reference). */
  async drop(h: ModelHandle): Promise<void> {
    this.entries.delete(h.key)
    await h.queue.run(() => h.model.release())
  }

  /** Drops the models loaded from `file` under any of its paths, or with that SHA-256 (every model when undefined). */
  async unload(file?: string): Promise<void> {
    const real = file === undefined ? undefined : await realpath(file).catch(() => file)
    const sha = file !== undefined && isSha256(file) ? file.toLowerCase() : undefined
    for (const h of await this.handles()) {
      if (real === undefined || h.files.has(real) || h.sha256 === sha) await this.drop(h)
    }
  }
}
