/*
 * A1111's infotext, the `parameters` text of its PNGs:
 *   <prompt, possibly several lines>
 *   Negative prompt: <negative prompt, possibly several lines>      (omitted when empty)
 *   Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: …, …
 * Writing follows modules/processing.py `create_infotext` (webui v1.10): fields in its dict order, `None` omitted,
 * `k` alone when the value equals the key, values quoted by infotext_utils `quote` (JSON with ensure_ascii=False
 * when they contain `,`, `:` or a newline; we also quote a `"` so every value reads back unchanged).
 * Reading follows infotext_utils `parse_generation_parameters`: the last line is the parameter line only when
 * `re_param` finds at least 3 fields in it; `Size: WxH` splits into width and height; quoted values are JSON-decoded.
 * Pinned: https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/v1.10.1/modules/infotext_utils.py
 */
import { VERSION } from '../core/version.ts'
import { paramPairs } from './infotext-params.ts'

/** What sdloom writes as `Version:` (A1111 writes its git tag, e.g. "v1.10.1"). */
export const INFOTEXT_VERSION = `sdloom ${VERSION}`

export interface NetworkHash {
  readonly name: string
  readonly hash: string
}

/** One image's generation parameters, as sdloom writes them. */
export interface GenerationInfo {
  readonly prompt: string
  readonly negativePrompt?: string
  readonly steps: number
  /** A1111 sampler label ("Euler a", "DPM++ 2M"). */
  readonly sampler: string
  /** A1111 scheduler label ("Karras", "Automatic"). */
  readonly scheduleType?: string
  readonly cfgScale: number
  readonly seed: number
  readonly width: number
  readonly height: number
  /** AutoV2 (first 10 hex digits of the file's SHA-256). */
  readonly modelHash?: string
  readonly model?: string
  readonly vaeHash?: string
  readonly vae?: string
  /** A1111 "Variation seed" / "Variation seed strength" (written when the strength is non-zero). */
  readonly variationSeed?: number
  readonly variationSeedStrength?: number
  /** A1111 "Seed resize from", "WxH". */
  readonly seedResizeFrom?: string
  readonly denoisingStrength?: number
  /** Inpainting UNets: A1111's `inpainting_mask_weight`, written as Python prints the float ("1.0"). */
  readonly conditionalMaskWeight?: string
  /** Written only when > 1, as A1111 does. */
  readonly clipSkip?: number
  /** eta_noise_seed_delta, written when non-zero (and the sampler uses it, the caller decides). */
  readonly ensd?: number
  /** Noise source; A1111 omits the field for its default, GPU. */
  readonly rng?: 'CPU' | 'NV' | 'GPU'
  /** A1111's `extra_generation_params` (hires settings, …), written after RNG and before the hashes. */
  readonly extra?: Readonly<Record<string, string | number | boolean>>
  /** AutoV3 hashes (12 hex digits) of the LoRAs used. */
  readonly loraHashes?: readonly NetworkHash[]
  /** AutoV3 hashes of the textual-inversion embeddings used. */
  readonly tiHashes?: readonly NetworkHash[]
  /**
   * Sampler settings away from their defaults ("Eta", "Sigma churn", "Schedule rho", "NGMS", …), which A1111 adds to
   * extra_generation_params while sampling, after the hashes; read back they land in `extra`.
   */
  readonly samplerFields?: Readonly<Record<string, number>>
  readonly version?: string
}

/** A1111's infotext_utils.quote (+ `"`, so values that look quoted survive the trip back). */
export function quoteValue(value: string): string {
  return /[,:\n"]/.test(value) ? JSON.stringify(value) : value
}

/** infotext_utils.unquote: JSON-decodes a value wrapped in double quotes; leaves it alone when that fails. */
export function unquoteValue(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value
  try {
    const v: unknown = JSON.parse(value)
    return typeof v === 'string' ? v : value
  } catch {
    return value // A1111 keeps the raw text when it is not valid JSON; so do we.
  }
}

/** "name: hash, name2: hash2", with `:` and `,` removed from names as A1111's networks extension does. */
export const formatNetworkHashes = (list: readonly NetworkHash[]): string =>
  list.map((n) => `${n.name.replace(/[:,]/g, '')}: ${n.hash}`).join(', ')

export function parseNetworkHashes(value: string): NetworkHash[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const i = s.lastIndexOf(':')
    return i < 0 ? { name: s, hash: '' } : { name: s.slice(0, i).trim(), hash: s.slice(i + 1).trim() }
  })
}

type FieldValue = string | number | boolean | undefined

/** The parameter line's fields in create_infotext's order (values still unquoted). */
export function infotextFields(info: GenerationInfo): [string, FieldValue][] {
  return [
    ['Steps', info.steps],
    ['Sampler', info.sampler],
    ['Schedule type', info.scheduleType],
    ['CFG scale', info.cfgScale],
    ['Seed', info.seed],
    ['Size', `${info.width}x${info.height}`],
    ['Model hash', info.modelHash],
    ['Model', info.model],
    ['VAE hash', info.vaeHash],
    ['VAE', info.vae],
    ['Variation seed', info.variationSeed],
    ['Variation seed strength', info.variationSeedStrength],
    ['Seed resize from', info.seedResizeFrom],
    ['Denoising strength', info.denoisingStrength],
    ['Conditional mask weight', info.conditionalMaskWeight],
    ['Clip skip', info.clipSkip !== undefined && info.clipSkip > 1 ? info.clipSkip : undefined],
    ['ENSD', info.ensd ? info.ensd : undefined],
    ['RNG', info.rng === 'GPU' ? undefined : info.rng],
    ...Object.entries(info.extra ?? {}),
    ['Lora hashes', info.loraHashes?.length ? formatNetworkHashes(info.loraHashes) : undefined],
    ['TI hashes', info.tiHashes?.length ? formatNetworkHashes(info.tiHashes) : undefined],
    ...Object.entries(info.samplerFields ?? {}),
    ['Version', info.version],
  ]
}

/** Python's str() of the values we write: booleans as True/False, numbers in shortest round-trip form. */
const valueText = (v: string | number | boolean): string => {
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  return v === Infinity ? 'inf' : String(v)
}

/** The infotext A1111 would write for these parameters. */
export function formatInfotext(info: GenerationInfo): string {
  const params = infotextFields(info)
    .filter((f): f is [string, string | number | boolean] => f[1] !== undefined)
    .map(([k, v]) => (valueText(v) === k ? k : `${k}: ${quoteValue(valueText(v))}`))
    .join(', ')
  const negative = info.negativePrompt ? `\nNegative prompt: ${info.negativePrompt}` : ''
  return `${info.prompt}${negative}\n${params}`.trim()
}

const RE_IMAGE_SIZE = /^(\d+)x(\d+)$/

export interface ParsedInfotext {
  readonly prompt: string
  readonly negativePrompt: string
  /** Every `key: value` of the parameter line in order, unquoted (`Size` kept as "WxH"). */
  readonly fields: Readonly<Record<string, string>>
  /** The fields sdloom understands, typed; absent when the text lacks them or they do not parse. */
  readonly info: Partial<GenerationInfo>
}


/** Splits an infotext as A1111's parse_generation_parameters does. */
export function parseInfotext(text: string): ParsedInfotext {
  const lines = text.trim().split('\n')
  let last = lines.pop() ?? ''
  if (paramPairs(last).length < 3) { lines.push(last); last = '' }
  let prompt = ''
  let negativePrompt = ''
  let inNegative = false
  // A1111 appends "\n" + line only once the text is non-empty, so leading blank lines vanish; we match that.
  const append = (acc: string, line: string): string => (acc === '' ? line : `${acc}\n${line}`)
  for (const raw of lines) {
    let line = raw.trim()
    if (line.startsWith('Negative prompt:')) { inNegative = true; line = line.slice(16).trim() }
    if (inNegative) negativePrompt = append(negativePrompt, line)
    else prompt = append(prompt, line)
  }
  const fields: Record<string, string> = {}
  for (const [k, v] of paramPairs(last)) fields[k] = unquoteValue(v)
  return { prompt, negativePrompt, fields, info: typedInfo(prompt, negativePrompt, fields) }
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || s.trim() === '') return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : undefined
}

const KNOWN = new Set(['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model hash', 'Model', 'VAE hash',
  'VAE', 'Variation seed', 'Variation seed strength', 'Seed resize from', 'Denoising strength', 'Conditional mask weight',
  'Clip skip', 'ENSD', 'RNG', 'Lora hashes', 'TI hashes', 'Version'])

function typedInfo(prompt: string, negativePrompt: string, f: Readonly<Record<string, string>>): Partial<GenerationInfo> {
  const size = RE_IMAGE_SIZE.exec(f.Size ?? '')
  const rng = f.RNG === 'CPU' || f.RNG === 'NV' || f.RNG === 'GPU' ? f.RNG : undefined
  const extra = Object.fromEntries(Object.entries(f).filter(([k]) => !KNOWN.has(k)))
  const all: Record<string, unknown> = {
    prompt, negativePrompt: negativePrompt || undefined,
    steps: num(f.Steps), sampler: f.Sampler, scheduleType: f['Schedule type'], cfgScale: num(f['CFG scale']),
    seed: num(f.Seed), width: size ? Number(size[1]) : undefined, height: size ? Number(size[2]) : undefined,
    modelHash: f['Model hash'], model: f.Model, vaeHash: f['VAE hash'], vae: f.VAE,
    variationSeed: num(f['Variation seed']), variationSeedStrength: num(f['Variation seed strength']),
    seedResizeFrom: f['Seed resize from'], conditionalMaskWeight: f['Conditional mask weight'],
    denoisingStrength: num(f['Denoising strength']), clipSkip: num(f['Clip skip']), ensd: num(f.ENSD), rng,
    extra: Object.keys(extra).length ? extra : undefined,
    loraHashes: f['Lora hashes'] !== undefined ? parseNetworkHashes(f['Lora hashes']) : undefined,
    tiHashes: f['TI hashes'] !== undefined ? parseNetworkHashes(f['TI hashes']) : undefined,
    version: f.Version,
  }
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Partial<GenerationInfo>
}
