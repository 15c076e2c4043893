/*
 * The checks of img2img's fields (the init picture, denoising strength, resize mode, inpainting) and of the variation
 * seeds every mode has. Pixel buffers are checked against their declared size before anything allocates from them, so
 * a request cannot make the engine expand a small body into gigabytes.
 */
import type { InputIssue } from '../core/errors.ts'
import { MAX_INPUT_PIXELS } from '../image/read-image.ts'
import { checkObject, isRecord, unknownKeys, type FieldRule, type Path } from './validate-fields.ts'

/** A1111's UI offers mask blur up to 64 and padding up to 256; the API takes any, we bound both (blur costs per radius). */
const MAX_MASK_BLUR = 256
const MAX_PADDING = 2048

const IMG2IMG_FIELDS: Readonly<Record<string, FieldRule>> = {
  denoisingStrength: { kind: 'number' },
  resizeMode: { kind: 'string', oneOf: ['just', 'crop', 'fill', 'latent'] },
}

/** The top-level keys only img2img has (validate.ts refuses them on txt2img as unknown fields). */
export const IMG2IMG_KEYS: Readonly<Record<string, true>> = { init: true, inpaint: true, denoisingStrength: true, resizeMode: true }

const INPAINT_FIELDS: Readonly<Record<string, FieldRule>> = {
  maskBlur: { kind: 'number', integer: true },
  invertMask: { kind: 'boolean' },
  fill: { kind: 'string', oneOf: ['fill', 'original', 'latent-noise', 'latent-nothing'] },
}

const name = (p: Path): string => p.join('.')

function inRange(obj: Record<string, unknown>, k: string, at: Path, lo: number, hi: number, what: string): InputIssue[] {
  const v = obj[k]
  if (typeof v !== 'number' || !Number.isFinite(v) || (v >= lo && v <= hi)) return []
  return [{ code: 'range', path: [...at, k], message: `${name([...at, k])} must be ${what}, got ${v}` }]
}

/**
 * An image { width, height, data } of `channels` bytes a pixel: whole sizes within MAX_INPUT_PIXELS, `data` a
 * Uint8Array of exactly width × height × channels bytes.
 */
export function checkImage(v: unknown, at: Path, channels: number, what: string): InputIssue[] {
  if (!isRecord(v)) return [{ code: 'type', path: at, message: `${name(at)} must be ${what} { width, height, data: Uint8Array }` }]
  const issues = [
    ...checkObject(v, { width: { kind: 'number', integer: true, required: true }, height: { kind: 'number', integer: true, required: true } }, at),
    ...unknownKeys(v, { width: true, height: true, data: true }, at),
  ]
  const { width: w, height: h, data } = v
  const sized = typeof w === 'number' && typeof h === 'number' && Number.isInteger(w) && Number.isInteger(h)
  if (sized && (w < 1 || h < 1 || w * h > MAX_INPUT_PIXELS)) {
    issues.push({ code: 'range', path: [...at, 'width'], message: `${name(at)} is ${w}x${h}: it must be at least 1x1 and at most ${MAX_INPUT_PIXELS} pixels (8192²). Hint: downscale the picture first.` })
  }
  if (!(data instanceof Uint8Array)) {
    issues.push({ code: 'type', path: [...at, 'data'], message: `${name([...at, 'data'])} must be a Uint8Array of ${what} bytes (request-json.ts reads it from base64)` })
  } else if (sized && data.length !== w * h * channels) {
    issues.push({ code: 'size', path: [...at, 'data'], message: `${name([...at, 'data'])} holds ${data.length} bytes; ${w}x${h} ${what} needs ${w} × ${h} × ${channels} = ${w * h * channels}` })
  }
  return issues
}

function checkInpaint(v: unknown, init: unknown): InputIssue[] {
  if (v === undefined) return []
  const at = ['inpaint']
  if (!isRecord(v)) return [{ code: 'type', path: at, message: 'inpaint must be an object { mask, maskBlur?, invertMask?, fill?, onlyMasked? }' }]
  const issues = [
    ...checkImage(v.mask, ['inpaint', 'mask'], 1, '8-bit grey (L) mask'),
    ...checkObject(v, INPAINT_FIELDS, at),
    ...inRange(v, 'maskBlur', at, 0, MAX_MASK_BLUR, `from 0 to ${MAX_MASK_BLUR} pixels`),
    ...unknownKeys(v, { mask: true, ...INPAINT_FIELDS, onlyMasked: true }, at),
  ]
  const only = v.onlyMasked
  if (only !== undefined) {
    const oat = ['inpaint', 'onlyMasked']
    if (!isRecord(only)) return [...issues, { code: 'type', path: oat, message: 'inpaint.onlyMasked must be an object { padding? }' }]
    issues.push(...checkObject(only, { padding: { kind: 'number', integer: true } }, oat), ...inRange(only, 'padding', oat, 0, MAX_PADDING, `from 0 to ${MAX_PADDING} pixels`),
      ...unknownKeys(only, { padding: true }, oat))
    const mask = v.mask
    // "Only masked" crops the picture where the mask is: both must be the same size (A1111 assumes it)
    if (isRecord(init) && isRecord(mask) && issues.length === 0 && (mask.width !== init.width || mask.height !== init.height)) {
      issues.push({ code: 'size', path: ['inpaint', 'mask'], message: `inpaint.mask is ${String(mask.width)}x${String(mask.height)} but init is ${String(init.width)}x${String(init.height)}: "only masked" needs a mask of the picture's size` })
    }
  }
  return issues
}

/** img2img's own fields (the GenerationBase ones are validate.ts's). */
export function checkImg2Img(input: Record<string, unknown>): InputIssue[] {
  const initIssues = input.init === undefined
    ? [{ code: 'required', path: ['init'], message: 'init is required (the picture to start from)' }]
    : checkImage(input.init, ['init'], 3, '8-bit RGB picture')
  const issues = [
    ...initIssues,
    ...checkObject(input, IMG2IMG_FIELDS, []),
    // the mask is compared with a well-formed picture only (one issue per mistake)
    ...checkInpaint(input.inpaint, initIssues.length === 0 ? input.init : undefined),
  ]
  const s = input.denoisingStrength
  if (typeof s === 'number' && Number.isFinite(s) && !(s > 0 && s <= 1)) {
    // A1111 accepts 0, which repaints nothing: sdloom refuses it so that a mistake does not pass for a result
    issues.push({ code: 'range', path: ['denoisingStrength'], message: `denoisingStrength must be in (0, 1], got ${s}. Hint: 0.75 is A1111's default; 1 repaints from noise.` })
  }
  if (input.resizeMode === 'latent' && input.inpaint !== undefined) {
    issues.push({ code: 'unsupported', path: ['resizeMode'], message: 'resizeMode "latent" is not supported with inpaint. Hint: use just, crop or fill.' })
  }
  const init = input.init as { width: number; height: number }
  if (input.resizeMode === 'latent' && initIssues.length === 0 && (init.width % 8 !== 0 || init.height % 8 !== 0)) {
    // the picture is encoded at its own size: the VAE works on 8×8 pixel blocks
    issues.push({ code: 'multiple-of-8', path: ['init'], message: `init is ${init.width}x${init.height}: resizeMode "latent" encodes it at its own size, which must be a multiple of 8. Hint: use resizeMode "just".` })
  }
  return issues
}

/** subseed, subseedStrength and seedResizeFrom (A1111's variation seeds and "Resize seed from"), any mode. */
export function checkVariation(input: Record<string, unknown>): InputIssue[] {
  const issues = [
    ...inRange(input, 'subseedStrength', [], 0, 1, 'in [0, 1] (0 = off)'),
    ...inRange(input, 'subseed', [], -1, Number.MAX_SAFE_INTEGER, '-1 (random) or a whole number >= 0'),
  ]
  const from = input.seedResizeFrom
  if (from === undefined) return issues
  const at = ['seedResizeFrom']
  if (!isRecord(from)) return [...issues, { code: 'type', path: at, message: 'seedResizeFrom must be an object { width, height } (multiples of 8; 0 = off)' }]
  const rule: FieldRule = { kind: 'number', integer: true, required: true }
  const fieldIssues = [...checkObject(from, { width: rule, height: rule }, at), ...unknownKeys(from, { width: true, height: true }, at)]
  issues.push(...fieldIssues)
  if (fieldIssues.length > 0) return issues
  const w = from.width as number
  const h = from.height as number
  // A1111 sends -1 / 0 for "off"; either side off turns it off, as A1111's seed_resize_from_w > 0 and _h > 0 test does
  if (w <= 0 || h <= 0) return issues
  if (w % 8 !== 0 || h % 8 !== 0 || w * h > MAX_INPUT_PIXELS) {
    issues.push({ code: 'range', path: at, message: `seedResizeFrom ${w}x${h} must be multiples of 8 (a latent size) of at most ${MAX_INPUT_PIXELS} pixels` })
  }
  return issues
}
