/*
 * Loaded checkpoints by file identity, under a byte budget. The key is the file's resolved path, size and mtime (a
 * fast identity: a replaced file is a new key) plus what was fixed at load (separate VAE, prediction override). After
 * each load the least recently used models with no job queued are released until the held bytes fit the budget; a
 * model with jobs is never evicted, so the budget can be exceeded while every model is busy.
 */
import { realpath, stat } from 'node:fs/promises'
import { InputError } from '../core/errors.ts'
import { loadModel, type LoadModelOptions, type Prediction, type WeightPrecision } from '../pipeline/load-model.ts'
import { ModelHandle } from './model-handle.ts'

export interface ModelSpec {
  readonly file: string
  readonly vae?: string
  readonly prediction?: Prediction
  /** 'int8': weight-only int8 UNet/text encoders (pipeline/load-model.ts); a different cache entry from float32. */
  readonly weights?: WeightPrecision
}

async function fileIdentity(file: string, field: string): Promise<string> {
  const st = await stat(file).catch(() => undefined)
  if (!st?.isFile()) throw new InputError([{ code: 'not-found', path: [field], message: `${file}: no such file` }])
  return `${await realpath(file)}\t${st.size}\t${st.mtimeMs}`
}

export async function modelKey(spec: ModelSpec): Promise<string> {
  const vae = spec.vae === undefined ? '' : await fileIdentity(spec.vae, 'vae')
  return [await fileIdentity(spec.file, 'model'), vae, spec.prediction ?? '', spec.weights ?? 'fp32'].join('\n')
}

export type Loader = (spec: ModelSpec, opts: Pick<LoadModelOptions, 'onProgress'>) => Promise<ModelHandle['model']>

export class ModelCache {
  private readonly entries = new Map<string, Promise<ModelHandle>>()

  constructor(readonly budgetBytes: number, private readonly load: Loader = (spec, opts) => loadModel(spec.file, { vae: spec.vae, prediction: spec.prediction, weights: spec.weights, ...opts })) {}

  /**
   * The handle of `spec`, loaded once however many callers ask at the same time. It comes back claimed
   * (`users` + 1, so no eviction sees it idle before the caller's job is queued); the caller calls `release` after.
   */
  async acquire(spec: ModelSpec, onProgress?: (done: number, total: number) => void): Promise<ModelHandle> {
    const key = await modelKey(spec)
    let entry = this.entries.get(key)
    const fresh = entry === undefined
    if (!entry) {
      entry = this.load(spec, { onProgress }).then((model) => new ModelHandle(key, model))
      this.entries.set(key, entry)
      entry.catch(() => { if (this.entries.get(key) === entry) this.entries.delete(key) })
    }
    const handle = await entry
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

  /** Drops the models loaded from `file` (every model when undefined). */
  async unload(file?: string): Promise<void> {
    const real = file === undefined ? undefined : await realpath(file).catch(() => file)
    for (const h of await this.handles()) if (real === undefined || h.key.startsWith(`${real}\t`)) await this.drop(h)
  }
}
