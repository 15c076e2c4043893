/**
 * Engine data as JSON for the Redis queue (src/jobs carries it opaquely). Pixels travel as deflated RGB in base64:
 * the server encodes the PNG itself, so its file is byte for byte the one-machine server's. A job carries the
 * checkpoint by sha256 only (the `model` field): a worker resolves it in its own library and never reads a path.
 */
import { deflateSync, inflateSync } from 'node:zlib'
import type { EngineEvent, GeneratedImage, GenerationRequest, RgbImage } from '../../engine/contract.ts'
import { requestFromJson, requestToJson } from '../../engine/request-json.ts'

export interface WireJob {
  /**
   * The request as engine/request-json.ts writes it (`model` is the checkpoint's sha256): a plain JSON copy would
   * turn img2img's pixel Uint8Arrays into objects of numbered keys.
   */
  readonly request: string
}

export const jobToWire = (request: GenerationRequest): WireJob => ({ request: requestToJson(request) })
/** The request of a job, validated as any request is (a job from another version is refused field by field). */
export const jobFromWire = (job: WireJob): GenerationRequest => requestFromJson(job.request)

export interface WireRgb { readonly width: number; readonly height: number; readonly data: string }

export interface WireImage extends Omit<GeneratedImage, 'rgb'> { readonly rgb: WireRgb }

export interface WireResult {
  readonly images: readonly WireImage[]
  readonly arch: string
  readonly prediction: string
  readonly warnings: readonly string[]
  readonly worker: string
}

/** Events other than `image` (images come back in the result). */
export type WireEvent = Exclude<EngineEvent, { type: 'image' | 'step' }> | (Omit<Extract<EngineEvent, { type: 'step' }>, 'preview'> & { readonly preview?: WireRgb })

export const rgbToWire = (i: RgbImage): WireRgb => ({ width: i.width, height: i.height, data: deflateSync(i.data, { level: 1 }).toString('base64') })
export const rgbFromWire = (w: WireRgb): RgbImage => ({ width: w.width, height: w.height, data: new Uint8Array(inflateSync(Buffer.from(w.data, 'base64'))) })

export const imageToWire = (i: GeneratedImage): WireImage => ({ ...i, rgb: rgbToWire(i.rgb) })
export const imageFromWire = (w: WireImage): GeneratedImage => ({ ...w, rgb: rgbFromWire(w.rgb) })

export function eventToWire(e: EngineEvent): WireEvent | undefined {
  if (e.type === 'image') return undefined
  if (e.type === 'step') return { ...e, preview: e.preview && rgbToWire(e.preview) }
  return e
}

export function eventFromWire(w: WireEvent): EngineEvent {
  if (w.type === 'step') return { ...w, preview: w.preview && rgbFromWire(w.preview) }
  return w
}
