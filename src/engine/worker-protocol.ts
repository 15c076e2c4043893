/*
 * The messages between an EngineClient and the Engine it hosts in a worker thread. Requests travel with their names
 * already resolved to files on the caller's side (the resolver may be a database or a folder index the worker has
 * no access to); events and results travel as structured clones, image bytes transferred, not copied.
 */
import { InputError, SdError, type InputIssue } from '../core/errors.ts'
import type { EngineEvent, GenerationRequest, GenerationResult, LoadedModelStatus } from './contract.ts'

/** What the caller's resolver decided for one request. */
export interface ResolvedFiles {
  readonly checkpoint: string
  /** Every checkpoint name of the request (its model, refiner, hires checkpoint) → file. */
  readonly checkpoints: Readonly<Record<string, string>>
  /** The hires network upscaler's name → file, when the request names one the caller's resolver knows. */
  readonly upscalers?: Readonly<Record<string, string>>
  /** The checkpoint's SHA-256 when the caller's resolver knows it (ModelResolver.knownSha256). */
  readonly checkpointSha256?: string
  readonly vae?: string
  /** Every LoRA name of the request (its `loras` and the prompt's `<lora:…>`) → file. */
  readonly loras: Readonly<Record<string, string>>
  readonly embeddingsDir?: string
  /** TAESD decoder files by latent family, when the request asks for TAESD previews. */
  readonly taesd?: { readonly sd?: string; readonly sdxl?: string }
}

export interface WorkerConfig {
  readonly tokenizerDir: string
  readonly budgetBytes?: number
  readonly hashCache?: boolean
  /** onnxruntime threads per session (tests use 1). */
  readonly threads?: number
  /**
   * onnxruntime's log level in the worker: the caller's (`sdloom` sets 'fatal' unless --debug). Each thread has its
   * own onnxruntime `env`, and the first session made in the process fixes the level: in a server, the worker's.
   */
  readonly ortLogLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal'
}

export type ToWorker =
  /**
   * `abortFlag`: an Int32Array over shared memory the client sets to 1 on abort. The worker's event loop is blocked
   * during each onnxruntime call, so an 'abort' message is read only after the next sampling step has begun (its
   * check passed): the job then stopped two steps late. The worker reads the flag at every step event instead, in
   * the sampler's own callback, so the check at the next step sees it.
   */
  | { readonly t: 'generate'; readonly id: number; readonly request: GenerationRequest; readonly files: ResolvedFiles; readonly abortFlag?: Int32Array }
  | { readonly t: 'abort'; readonly id: number }
  | { readonly t: 'loaded'; readonly id: number }
  | { readonly t: 'unload'; readonly id: number; readonly file?: string }

export type FromWorker =
  | { readonly t: 'event'; readonly id: number; readonly event: EngineEvent }
  | { readonly t: 'generated'; readonly id: number; readonly result: GenerationResult }
  | { readonly t: 'loaded'; readonly id: number; readonly models: readonly LoadedModelStatus[] }
  | { readonly t: 'unloaded'; readonly id: number }
  | { readonly t: 'error'; readonly id: number; readonly error: WireError }

/** An error as it crosses the boundary: what a face needs to map it (code) and show it (message). */
export interface WireError {
  readonly name: string
  readonly code?: string
  readonly message: string
  readonly issues?: readonly InputIssue[]
  readonly aborted?: boolean
}

export function toWire(e: unknown, aborted: boolean): WireError {
  if (e instanceof InputError) return { name: e.name, code: e.code, message: e.message, issues: e.issues, aborted }
  if (e instanceof SdError) return { name: e.name, code: e.code, message: e.message, aborted }
  const err = e instanceof Error ? e : new Error(String(e))
  return { name: err.name, message: err.message, aborted }
}

/** The error again, as the class a face maps: InputError with its issues, an SdError with its code, else an Error. */
export function fromWire(w: WireError): Error {
  if (w.issues) return new InputError(w.issues)
  const e = w.code !== undefined ? new SdError(w.message, { code: w.code }) : new Error(w.message)
  e.name = w.name
  return e
}

/** The ArrayBuffers of an event's image bytes, to transfer instead of copy. */
export function transferables(e: EngineEvent | GenerationResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = []
  const add = (a: Uint8Array | undefined): void => { if (a && a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) out.push(a.buffer) }
  if ('type' in e) {
    if (e.type === 'step') add(e.preview?.data)
    if (e.type === 'image') add(e.image.rgb.data)
  } else for (const img of e.images) add(img.rgb.data)
  return out
}
