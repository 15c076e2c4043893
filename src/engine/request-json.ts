/*
 * A request as JSON text and back (a queue, a database row, a replay): the pixel buffers of img2img (`init.data`,
 * `inpaint.mask.data`) are written as base64 strings and read back into Uint8Arrays; everything else is JSON as is.
 * What comes back is validated like any request.
 */
import { InputError } from '../core/errors.ts'
import type { GenerationRequest } from './contract.ts'
import { validateRequest } from './validate.ts'
import { isRecord } from './validate-fields.ts'

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

export function requestToJson(req: GenerationRequest): string {
  return JSON.stringify(req, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v))
}

/** One image's `data` from base64 (left as it is when it is not a string: validateRequest names the problem). */
function bytesAt(img: unknown, path: string): unknown {
  if (!isRecord(img) || typeof img.data !== 'string') return img
  if (img.data.length % 4 !== 0 || !BASE64.test(img.data)) {
    throw new InputError([{ code: 'type', path: [...path.split('.'), 'data'], message: `${path}.data must be base64 (the bytes of the picture), not ${img.data.slice(0, 20)}…` }])
  }
  return { ...img, data: new Uint8Array(Buffer.from(img.data, 'base64')) }
}

/** A parsed JSON value as a request: base64 pixel strings decoded, then validated. */
export function requestFromJsonValue(value: unknown): GenerationRequest {
  if (!isRecord(value) || value.mode !== 'img2img') return validateRequest(value)
  const inpaint = isRecord(value.inpaint) ? { ...value.inpaint, mask: bytesAt(value.inpaint.mask, 'inpaint.mask') } : value.inpaint
  return validateRequest({ ...value, init: bytesAt(value.init, 'init'), ...(inpaint === undefined ? {} : { inpaint }) })
}

export const requestFromJson = (text: string): GenerationRequest => requestFromJsonValue(JSON.parse(text) as unknown)
