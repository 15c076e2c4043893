/*
 * One cached checkpoint and everything the engine keeps with it, as plain fields a reader can see: the loaded model
 * (weights, sessions, `adapterState`), its job queue, the bytes it holds, the LoRA set last applied (LoRA mode
 * 'auto'), the conditionings of recent prompts and the AutoV2 hashes for the infotext.
 */
import type { NetworkHash } from '../image/infotext.ts'
import type { PromptConditioning } from '../pipeline/conditioning.ts'
import type { LoadedModel } from '../pipeline/load-model.ts'
import type { WeightStore } from '../models/weights.ts'
import { Fifo } from './fifo.ts'
import type { HeldVae } from './vae-switch.ts'

export interface CachedConditioning {
  readonly conditioning: PromptConditioning
  /** The TI hashes the conditioning reported while it was built (the infotext needs them on a hit too). */
  readonly tiHashes: readonly NetworkHash[]
}

/** How many conditionings a model keeps (a server's recent prompts); the oldest goes first. */
const CONDITIONINGS_KEPT = 16

export class ModelHandle {
  readonly queue = new Fifo()
  /** Callers holding the handle (ModelCache.acquire … release); never evicted while above 0. */
  users = 0
  lastUsed = Date.now()
  /** The LoRA set of the latest request and how many requests in a row asked for it (auto mode merges on a repeat). */
  loraSet = { signature: '', repeats: 0 }
  readonly conditionings = new Map<string, CachedConditioning>()
  /** AutoV2 hashes of the checkpoint and VAE files, computed once. */
  hashes: { model?: string; vae?: string } | undefined

  /** The real paths this model was asked for by (copies and links of one file are one model). */
  readonly files = new Set<string>()

  /** `sha256`: the checkpoint file's content hash, the cache's identity of this model (model-identity.ts). */
  /** The VAE the model's weights hold now (vae-switch.ts changes it between jobs). */
  vae: HeldVae = { identity: '' }

  /**
   * `sha256`: the checkpoint file's content hash, the cache's identity of this model (model-identity.ts). `model` is
   * replaced (same weights and sessions) when a VAE switch changes its `vaeFile`.
   */
  constructor(readonly key: string, public model: LoadedModel, readonly sha256: string) {}

  /** Bytes the weights hold now: stored arrays (float32, half bits of a mapped file, int8 codes + scales) and patched copies, each buffer once. */
  get bytes(): number { return heldBytes(this.model.weights) }

  conditioning(key: string): CachedConditioning | undefined {
    const hit = this.conditionings.get(key)
    if (hit) { this.conditionings.delete(key); this.conditionings.set(key, hit) }
    return hit
  }

  keepConditioning(key: string, c: CachedConditioning): void {
    this.conditionings.set(key, c)
    for (const old of this.conditionings.keys()) {
      if (this.conditionings.size <= CONDITIONINGS_KEPT) break
      this.conditionings.delete(old)
    }
  }
}

export function heldBytes(weights: WeightStore): number {
  const buffers = new Set<ArrayBufferLike>()
  let bytes = 0
  const count = (a: ArrayBufferView | undefined): void => { if (a && !buffers.has(a.buffer)) { buffers.add(a.buffer); bytes += a.buffer.byteLength } }
  // the arrays as held (get/getBase would widen a copy of every int8 or half weight just to count it)
  for (const k of weights.keys()) for (const a of weights.heldArrays(k)) count(a)
  return bytes
}
