/**
 * `convertModel`: pickle or safetensors in, safetensors out, one tensor in memory at a time.
 *   dtype  float tensors re-encoded (round to nearest even, as torch's .half()/.bfloat16()); integer tensors and the
 *          top-level DDPM schedule buffers (`alphas_cumprod`, `betas`, …: keys without a dot) keep their dtype, because
 *          A1111/LDM load those values into float32 buffers and an fp16 copy would change every sigma.
 *   ema    'keep' (default), 'drop' (remove `model_ema.*`), 'use' (EMA weights replace the UNet's, then `model_ema.*`
 *          is dropped). LDM's LitEma names a copy of `model.<path>` as `model_ema.<path without dots>`, e.g.
 *          `model.diffusion_model.input_blocks.0.0.weight` ↔ `model_ema.diffusion_modelinput_blocks00weight`;
 *          `model_ema.decay` / `model_ema.num_updates` are counters.
 *   only   keep one part: 'unet' (`model.diffusion_model.*`, written without the prefix: the bare LDM UNet layout),
 *          'vae' (`first_stage_model.*`, written without the prefix: the standalone VAE layout A1111 loads),
 *          'text-encoder' (`cond_stage_model.*` / `conditioner.embedders.*`, keys kept as they are, since SDXL has two).
 */
import { resolve } from 'node:path'
import { InputError, MissingKeysError, ShapeMismatchError } from '../core/errors.ts'
import { isFloatDType, type DType } from '../core/dtype.ts'
import { openTensorFile } from '../formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../formats/safetensors-writer.ts'
import type { TensorSource } from '../formats/tensor-source.ts'

export type TargetDType = 'F32' | 'F16' | 'BF16'
export type EmaMode = 'keep' | 'drop' | 'use'
export type ModelPart = 'unet' | 'vae' | 'text-encoder'

export interface ConvertOptions {
  readonly dtype?: TargetDType
  readonly ema?: EmaMode
  readonly only?: ModelPart
  /** Bytes written so far and the output's final size. */
  readonly onProgress?: (bytes: number, total: number) => void
}

export interface ConvertReport {
  readonly input: string
  readonly output: string
  readonly tensorsIn: number
  readonly tensorsOut: number
  /** Tensors whose dtype changed. */
  readonly converted: number
  /** UNet tensors replaced by their EMA copies. */
  readonly emaReplaced: number
}

const UNET_PREFIX = 'model.diffusion_model.'
const EMA_PREFIX = 'model_ema.'

export const emaKeyOf = (modelKey: string): string => `${EMA_PREFIX}${modelKey.slice('model.'.length).replaceAll('.', '')}`

const PARTS: Record<ModelPart, { readonly prefixes: readonly string[]; readonly strip: boolean; readonly what: string }> = {
  'unet': { prefixes: [UNET_PREFIX], strip: true, what: '"model.diffusion_model.*"' },
  'vae': { prefixes: ['first_stage_model.'], strip: true, what: '"first_stage_model.*"' },
  'text-encoder': { prefixes: ['cond_stage_model.', 'conditioner.embedders.'], strip: false, what: '"cond_stage_model.*" or "conditioner.embedders.*"' },
}

interface Planned { readonly name: string; readonly from: string }

/** Output name → source key, after EMA substitution and part selection. */
function plan(src: TensorSource, o: ConvertOptions): { items: Planned[]; emaReplaced: number } {
  const keys = src.keys()
  const ema = o.ema ?? 'keep'
  let items: Planned[] = keys.filter((k) => ema === 'keep' || !k.startsWith(EMA_PREFIX)).map((k) => ({ name: k, from: k }))
  let emaReplaced = 0
  if (ema === 'use') {
    const unet = keys.filter((k) => k.startsWith(UNET_PREFIX))
    const missing = unet.filter((k) => !src.has(emaKeyOf(k)))
    if (missing.length === unet.length) {
      throw new InputError(`${src.file}: --ema: no EMA weights in this file (no "${EMA_PREFIX}*" copy of any "${UNET_PREFIX}*" tensor). Hint: use --no-ema or leave both out`)
    }
    if (missing.length > 0) throw new MissingKeysError(src.file, missing.map(emaKeyOf), 'EMA')
    for (const k of unet) {
      const a = src.info(k).shape
      const b = src.info(emaKeyOf(k)).shape
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw new ShapeMismatchError(src.file, emaKeyOf(k), a, b, `the EMA copy of "${k}" must have its shape`)
    }
    items = items.map((it) => (it.name.startsWith(UNET_PREFIX) ? { name: it.name, from: emaKeyOf(it.name) } : it))
    emaReplaced = unet.length
  }
  if (o.only) {
    const part = PARTS[o.only]
    const picked = items.filter((it) => part.prefixes.some((p) => it.name.startsWith(p)))
    if (picked.length === 0) throw new InputError(`${src.file}: --only ${o.only}: no ${part.what} tensors in this file`)
    items = picked.map((it) => ({ ...it, name: part.strip ? it.name.slice(part.prefixes[0].length) : it.name }))
  }
  return { items, emaReplaced }
}

/** The dtype a tensor is written in: float tensors re-encoded, integers and top-level schedule buffers kept. */
export function targetDType(key: string, stored: DType, want: TargetDType | undefined): DType {
  if (want === undefined || !isFloatDType(stored) || !key.includes('.')) return stored
  return want
}

export async function convertModel(input: string, output: string, o: ConvertOptions = {}): Promise<ConvertReport> {
  if (resolve(input) === resolve(output)) throw new InputError(`convert: the output ${output} is the input file; write to a new path`)
  const src = await openTensorFile(input)
  try {
    const { items, emaReplaced } = plan(src, o)
    let converted = 0
    const tensors: WriteTensor[] = items.map(({ name, from }) => {
      const info = src.info(from)
      const dtype = targetDType(name, info.dtype, o.dtype)
      if (dtype === info.dtype) return { name, dtype, shape: info.shape, data: () => src.readRaw(from) }
      converted++
      return { name, dtype, shape: info.shape, data: async () => encodeF32As(dtype as TargetDType, await src.readF32(from)) }
    })
    await writeSafetensors(output, tensors, { metadata: src.metadata, onProgress: o.onProgress })
    return { input, output, tensorsIn: src.keys().length, tensorsOut: tensors.length, converted, emaReplaced }
  } finally {
    await src.close()
  }
}
