/**
 * Pictures uploaded in a request body (img2img's init_images and mask): base64 with or without a `data:` prefix,
 * any format sharp reads (PNG of any depth/palette/alpha, JPEG, WebP). The header's size is checked against the
 * server's limit before any pixel is decoded (read-image.ts, sharp's limitInputPixels), so a small file cannot
 * expand to gigabytes. Every failure names the field. URLs are refused: sdloom makes no network requests.
 */
import { InputError } from '../core/errors.ts'
import { decodeImage, type DecodedImage } from '../image/read-image.ts'

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const DATA_URL = /^data:[^,]{0,200};base64,/i

/** The field's base64 text without prefix and whitespace; throws naming the field when it is not base64. */
export function base64Of(field: string, text: string): string {
  if (/^https?:\/\//i.test(text)) {
    throw new InputError(`${field}: pictures are not fetched from URLs (sdloom makes no network requests); send the picture as base64`)
  }
  const b64 = text.replace(DATA_URL, '').replace(/\s+/g, '')
  if (b64 === '') throw new InputError(`${field}: empty picture; send a PNG, JPEG or WebP file as base64`)
  // A1111's b64decode pads nothing: a length that is not a multiple of 4 is as broken as a foreign character
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) {
    throw new InputError(`${field}: not base64 (${JSON.stringify(text.slice(0, 24))}…); send the picture file's bytes as base64, optionally with a data:image/…;base64, prefix`)
  }
  return b64
}

/** Decodes one uploaded picture, bounded by `maxPixels` (checked from the header before decoding). */
export async function decodeUpload(field: string, b64: string, maxPixels: number): Promise<DecodedImage> {
  const bytes = Buffer.from(b64, 'base64')
  try {
    return await decodeImage(bytes, field, { maxPixels })
  } catch (e) {
    if (!(e instanceof InputError)) throw e
    // read-image.ts says "<name>: …"; the name given is the field, so the message already names it
    throw new InputError(`${e.message.replace(/Hint: downscale it first\./, `Hint: downscale it first (the server's limit is --max-input-pixels ${maxPixels}).`)}`)
  }
}
