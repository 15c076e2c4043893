/*
 * The one place a request is checked: JSON-level shape (types, enums, unknown fields) here, all issues at once, each
 * naming its field; value ranges (steps, sizes, seeds, sampler names) by the pipeline's resolveRequest, whose errors
 * name their field too. A request that passes is plain data: it survives JSON.stringify → JSON.parse unchanged.
 */
import { InputError, type InputIssue } from '../core/errors.ts'
import { WEIGHT_PRECISIONS } from '../pipeline/load-model.ts'
import { checkSwitchAt } from '../pipeline/refiner.ts'
import { resolveRequest } from '../pipeline/request.ts'
import type { AdapterRef, GenerationRequest } from './contract.ts'
import { checkObject, isRecord, unknownKeys, type FieldRule } from './validate-fields.ts'
import { checkImg2Img, checkVariation, IMG2IMG_KEYS } from './validate-img2img.ts'


const MODES = ['txt2img', 'img2img'] as const

const FIELDS: Readonly<Record<string, FieldRule>> = {
  mode: { kind: 'string', required: true, oneOf: MODES },
  model: { kind: 'string', required: true },
  vae: { kind: 'string' },
  prompt: { kind: 'string', required: true },
  negativePrompt: { kind: 'string' },
  steps: { kind: 'number', integer: true },
  cfgScale: { kind: 'number' },
  sampler: { kind: 'string' },
  scheduler: { kind: 'string' },
  seed: { kind: 'number', integer: true },
  rng: { kind: 'string', oneOf: ['gpu', 'cpu', 'nv'] },
  width: { kind: 'number', integer: true },
  height: { kind: 'number', integer: true },
  batchSize: { kind: 'number', integer: true },
  batchCount: { kind: 'number', integer: true },
  clipSkip: { kind: 'number', integer: true },
  ensd: { kind: 'number', integer: true },
  loraMode: { kind: 'string', oneOf: ['merge', 'bypass', 'auto'] },
  strict: { kind: 'boolean' },
  prediction: { kind: 'string', oneOf: ['eps', 'v'] },
  weights: { kind: 'string', oneOf: WEIGHT_PRECISIONS },
  vaeTiling: { kind: 'string', oneOf: ['auto', 'on', 'off'] },
  previewEvery: { kind: 'number', integer: true },
  previewMethod: { kind: 'string', oneOf: ['cheap', 'taesd'] },
  refiner: { kind: 'string' },
  refinerSwitchAt: { kind: 'number' },
  aestheticScore: { kind: 'number' },
  negativeAestheticScore: { kind: 'number' },
  subseed: { kind: 'number', integer: true },
  subseedStrength: { kind: 'number' },
}


const HIRES_FIELDS: Readonly<Record<string, FieldRule>> = {
  scale: { kind: 'number' }, resizeWidth: { kind: 'number', integer: true }, resizeHeight: { kind: 'number', integer: true },
  upscaler: { kind: 'string' }, steps: { kind: 'number', integer: true }, denoisingStrength: { kind: 'number' },
  prompt: { kind: 'string' }, negativePrompt: { kind: 'string' }, sampler: { kind: 'string' }, scheduler: { kind: 'string' },
  cfgScale: { kind: 'number' }, upscalerTile: { kind: 'number', integer: true }, upscalerTileOverlap: { kind: 'number', integer: true },
  checkpoint: { kind: 'string' },
}

function checkHires(v: unknown): InputIssue[] {
  if (v === undefined) return []
  if (!isRecord(v)) return [{ code: 'type', path: ['hires'], message: 'hires must be an object { scale?, upscaler?, steps?, denoisingStrength?, … }' }]
  return [...checkObject(v, HIRES_FIELDS, ['hires']), ...unknownKeys(v, HIRES_FIELDS, ['hires'])]
}

const ADAPTER_FIELDS: Readonly<Record<string, FieldRule>> = {
  name: { kind: 'string', required: true }, weight: { kind: 'number' }, unetWeight: { kind: 'number' },
}


const SAMPLER_PARAM_FIELDS: Readonly<Record<string, FieldRule>> = Object.fromEntries(
  ['eta', 'sNoise', 'sChurn', 'sTmin', 'sTmax', 'sigmaMin', 'sigmaMax', 'rho', 'sMinUncond', 'skipEarlyCond'].map((k) => [k, { kind: 'number' }]),
)

function checkSamplerParams(v: unknown): InputIssue[] {
  if (v === undefined) return []
  if (!isRecord(v)) return [{ code: 'type', path: ['samplerParams'], message: 'samplerParams must be an object of numbers (eta, sChurn, …)' }]
  return [...checkObject(v, SAMPLER_PARAM_FIELDS, ['samplerParams']), ...unknownKeys(v, SAMPLER_PARAM_FIELDS, ['samplerParams'])]
}


function checkLoras(v: unknown): InputIssue[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) return [{ code: 'type', path: ['loras'], message: 'loras must be a list of { name, weight?, unetWeight? }' }]
  return v.flatMap((l: unknown, i) => isRecord(l)
    ? [...checkObject(l, ADAPTER_FIELDS, ['loras', i]), ...unknownKeys(l, ADAPTER_FIELDS, ['loras', i])]
    : [{ code: 'type', path: ['loras', i], message: `loras.${i} must be an object { name, weight?, unetWeight? }` }])
}


/** Checks a request (as parsed from JSON or built in code) and returns it typed; throws one InputError listing every issue. */
export function validateRequest(input: unknown): GenerationRequest {
  if (!isRecord(input)) throw new InputError([{ code: 'type', path: [], message: 'a generation request must be an object' }])
  const img2img = input.mode === 'img2img'
  // mode-specific fields: hires fix is txt2img's option, the picture and inpainting img2img's
  const modeKeys = img2img ? IMG2IMG_KEYS : input.mode === 'txt2img' ? { hires: true } : {}
  const issues = [
    ...checkObject(input, FIELDS, []),
    ...checkLoras(input.loras),
    ...checkSamplerParams(input.samplerParams),
    ...checkVariation(input),
    ...(input.mode === 'txt2img' ? checkHires(input.hires) : []),
    ...(img2img ? checkImg2Img(input) : []),
    ...unknownKeys(input, { ...FIELDS, loras: true, samplerParams: true, seedResizeFrom: true, ...modeKeys }, []),
  ]
  if (input.previewEvery !== undefined && issues.every((i) => i.path[0] !== 'previewEvery') && (input.previewEvery as number) < 0) {
    issues.push({ code: 'range', path: ['previewEvery'], message: `previewEvery must be 0 (none) or a number of steps, got ${String(input.previewEvery)}` })
  }
  if (issues.length > 0) throw new InputError(issues)
  const request = input as unknown as GenerationRequest
  resolveRequest(512, request) // ranges, sampler and scheduler names; throws naming the field
  if (request.refinerSwitchAt !== undefined) checkSwitchAt(request.refinerSwitchAt)
  return request
}

/** An adapter reference's multipliers (A1111: unet defaults to te). */
export const adapterWeights = (a: AdapterRef): { te: number; unet: number } => ({ te: a.weight ?? 1, unet: a.unetWeight ?? a.weight ?? 1 })
