/**
 * `mergeCheckpoints`: A1111's Checkpoint Merger (modules/extras.py `run_modelmerger`), streaming:
 *   weighted-sum      A·(1−M) + B·M
 *   add-difference    A + (B − C)·M
 *   no-interpolation  A as it is (with the VAE baked in, re-encoded, keys discarded)
 * Its rules, kept: only keys containing "model" are merged, and only when B has them (the rest come from A; B's extra
 * keys are dropped); a key B has but C lacks adds nothing; the CLIP position_ids are copied, never merged. An
 * inpainting (9-channel) or instruct-pix2pix (8-channel) A merged with a normal B merges only the 4 latent input
 * channels of the first conv (with add-difference: A_inpaint + (B − C)·M, the usual way to make an inpainting model
 * of a fine-tune); a normal A with an inpainting B is an error, as in A1111. A VAE baked in replaces
 * `first_stage_model.*`; `--discard` drops keys matching a regex.
 * Every output tensor is computed when the writer reaches it: one key of each input is in memory at a time.
 */
import { basename, extname, resolve } from 'node:path'
import { InputError, ShapeMismatchError } from '../core/errors.ts'
import { isFloatDType } from '../core/dtype.ts'
import { shapeEquals } from '../core/host-tensor.ts'
import { openTensorFile } from '../formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../formats/safetensors-writer.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { checkpointFamily, checkSameFamily } from './model-arch.ts'
import { blockLayoutOf, blockOf, parseBlockWeights } from './merge-blocks.ts'
import { mergeRecipeMetadata, type MergeMethod } from './merge-recipe.ts'
import { openVae, type BakedVae } from './merge-vae.ts'
import { targetDType, type TargetDType } from './convert.ts'

export type { MergeMethod } from './merge-recipe.ts'

export interface MergeInputs {
  readonly a: string
  readonly b?: string
  readonly c?: string
}

export interface MergeOptions {
  readonly method: MergeMethod
  /** M: B's share (weighted-sum) or the difference's multiplier (add-difference). */
  readonly alpha: number
  /** "w1,w2,…" per block (see merge-blocks.ts); the --alpha is BASE unless the list starts with it. */
  readonly blocks?: string
  readonly vae?: string
  readonly dtype?: TargetDType
  readonly discard?: string
  /** Tensors written so far and the total (a progress bar). */
  readonly onProgress?: (done: number, total: number) => void
}

export interface MergeReport {
  readonly output: string
  readonly method: MergeMethod
  readonly architecture: string
  readonly tensors: number
  readonly merged: number
  readonly copied: number
  readonly vaeBaked: number
  readonly discarded: number
  readonly inpainting: boolean
  readonly instructPix2Pix: boolean
}

const SKIP_ON_MERGE = new Set(['cond_stage_model.transformer.text_model.embeddings.position_ids'])

type Combine = (a: number, t: number, m: number) => number
const COMBINE: Readonly<Record<Exclude<MergeMethod, 'no-interpolation'>, Combine>> = {
  // float32 arithmetic in torch's order: ((1 − M)·A) + (M·B) and A + M·(B − C) (the difference is formed first).
  'weighted-sum': (a, b, m) => Math.fround(Math.fround(Math.fround(1 - m) * a) + Math.fround(Math.fround(m) * b)),
  'add-difference': (a, d, m) => Math.fround(a + Math.fround(Math.fround(m) * d)),
}

function checkMethodInputs(inputs: MergeInputs, method: MergeMethod): void {
  const need = method === 'no-interpolation' ? 1 : method === 'weighted-sum' ? 2 : 3
  const got = [inputs.a, inputs.b, inputs.c].filter((x) => x !== undefined).length
  if (got !== need) throw new InputError(`merge --method ${method} takes ${need} model(s) (${['A', 'A B', 'A B C'][need - 1]}), got ${got}`)
}

interface Ctx {
  readonly a: TensorSource
  readonly b?: TensorSource
  readonly c?: TensorSource
  readonly method: MergeMethod
  readonly alphaOf: (key: string) => number
  readonly flags: { inpainting: boolean; instructPix2Pix: boolean }
}

/** B's tensor, or B − C for add-difference (zeros where C lacks the key, as A1111). */
async function other(ctx: Ctx, key: string): Promise<Float32Array> {
  const b = await ctx.b!.readF32(key)
  if (ctx.method !== 'add-difference') return b
  const c = ctx.c!
  if (!c.has(key)) return b.fill(0)
  const bs = ctx.b!.info(key).shape
  if (!shapeEquals(c.info(key).shape, bs)) throw new ShapeMismatchError(c.file, key, bs, c.info(key).shape, `model C must have model B's shapes`)
  const cv = await c.readF32(key)
  for (let i = 0; i < b.length; i++) b[i] = Math.fround(b[i] - cv[i])
  return b
}

/** Merged value of one key A and B share. */
async function mergeKey(ctx: Ctx, key: string): Promise<Float32Array> {
  const as = ctx.a.info(key).shape
  const bs = ctx.b!.info(key).shape
  const a = await ctx.a.readF32(key)
  const t = await other(ctx, key)
  const f = COMBINE[ctx.method as Exclude<MergeMethod, 'no-interpolation'>]
  const m = ctx.alphaOf(key)
  if (shapeEquals(as, bs)) {
    for (let i = 0; i < a.length; i++) a[i] = f(a[i], t[i], m)
    return a
  }
  const sameButInputs = as.length === 4 && bs.length === 4 && as[0] === bs[0] && as[2] === bs[2] && as[3] === bs[3]
  if (!sameButInputs) throw new ShapeMismatchError(ctx.b!.file, key, as, bs, `model A (${basename(ctx.a.file)}) has this shape; the models do not match`)
  if (bs[1] !== 4 || (as[1] !== 9 && as[1] !== 8)) {
    const what = bs[1] === 9 ? 'inpainting' : bs[1] === 8 ? 'instruct-pix2pix' : `${bs[1]}-channel`
    throw new InputError(`merge: when merging ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} model with a normal one, A must be the ${what} model `
      + `(${basename(ctx.a.file)} has ${as[1]} input channels at "${key}", ${basename(ctx.b!.file)} has ${bs[1]}). Hint: swap A and B.`)
  }
  if (as[1] === 9) ctx.flags.inpainting = true
  else ctx.flags.instructPix2Pix = true
  // Only the 4 latent channels the models share: A[:, 0:4] = f(A[:, 0:4], B).
  const [out, inA, kh, kw] = as
  const kk = kh * kw
  for (let o = 0; o < out; o++) {
    for (let j = 0; j < 4 * kk; j++) a[o * inA * kk + j] = f(a[o * inA * kk + j], t[o * 4 * kk + j], m)
  }
  return a
}

function discardFilter(pattern: string | undefined): (key: string) => boolean {
  if (pattern === undefined || pattern === '') return () => false
  let re: RegExp
  try { re = new RegExp(pattern) } catch (e) { throw new InputError(`--discard: "${pattern}" is not a valid regular expression (${(e as Error).message})`) }
  return (key) => re.test(key)
}

function tensorFor(ctx: Ctx, key: string, vae: BakedVae | undefined, dtype: TargetDType | undefined): WriteTensor & { merged: boolean; baked: boolean } {
  const info = ctx.a.info(key)
  const kept = targetDType(key, info.dtype, dtype)
  // A computed tensor is written in a float dtype the encoder has (an F64 source tensor becomes F32).
  const out: TargetDType = kept === 'F16' || kept === 'BF16' ? kept : 'F32'
  const encode = async (v: Promise<Float32Array>) => encodeF32As(out, await v)
  const base = { name: key, dtype: out, shape: info.shape }
  if (vae?.has(key)) return { ...base, merged: false, baked: true, data: () => encode(vae.read(key)) }
  const merged = ctx.method !== 'no-interpolation' && key.includes('model') && ctx.b!.has(key) && !SKIP_ON_MERGE.has(key) && isFloatDType(info.dtype)
  if (merged) return { ...base, merged, baked: false, data: () => encode(mergeKey(ctx, key)) }
  if (kept === info.dtype) return { ...base, dtype: kept, merged, baked: false, data: () => ctx.a.readRaw(key) }
  return { ...base, merged, baked: false, data: () => encode(ctx.a.readF32(key)) }
}

export async function mergeCheckpoints(inputs: MergeInputs, output: string, o: MergeOptions): Promise<MergeReport> {
  checkMethodInputs(inputs, o.method)
  for (const f of [inputs.a, inputs.b, inputs.c, o.vae]) {
    if (f !== undefined && resolve(f) === resolve(output)) throw new InputError(`merge: the output ${output} is one of the inputs; write to a new path`)
  }
  const discard = discardFilter(o.discard)
  const opened: TensorSource[] = []
  const open = async (f: string | undefined) => { if (f === undefined) return undefined; const s = await openTensorFile(f); opened.push(s); return s }
  try {
    const a = (await open(inputs.a))!
    const b = await open(inputs.b)
    const c = await open(inputs.c)
    const models = [a, b, c].filter((s): s is TensorSource => s !== undefined).map((s, i) => checkpointFamily(s, `model ${'ABC'[i]}`))
    checkSameFamily(models)
    const vae = o.vae === undefined ? undefined : await openVae(o.vae, a)
    if (vae) opened.push(vae.source)
    const layout = blockLayoutOf(a.keys())
    const weights = o.blocks === undefined ? undefined : parseBlockWeights(o.blocks, layout, o.alpha)
    const alphaOf = (key: string) => weights?.get(blockOf(key, layout)) ?? o.alpha
    const ctx: Ctx = { a, b, c, method: o.method, alphaOf, flags: { inpainting: false, instructPix2Pix: false } }
    const keys = a.keys().filter((k) => !discard(k))
    const planned = keys.map((k) => tensorFor(ctx, k, vae, o.dtype))
    const metadata = await mergeRecipeMetadata([a, b, c], {
      method: o.method, multiplier: o.alpha, saveAsHalf: o.dtype === 'F16', customName: basename(output, extname(output)),
      bakeInVae: o.vae === undefined ? 'None' : basename(o.vae), discardWeights: o.discard ?? '',
      // Known before writing: the flags are set by the shapes, checked again while merging.
      isInpainting: inputChannels(a) === 9 && b !== undefined && inputChannels(b) === 4,
      isInstructPix2Pix: inputChannels(a) === 8 && b !== undefined && inputChannels(b) === 4,
      ...(o.blocks ? { blockWeights: o.blocks } : {}),
    })
    let done = 0
    const counted = planned.map((t) => ({ ...t, data: async () => { const d = await (t.data as () => Promise<Uint8Array>)(); o.onProgress?.(++done, planned.length); return d } }))
    await writeSafetensors(output, counted, { metadata })
    return {
      output, method: o.method, architecture: models[0].label, tensors: planned.length,
      merged: planned.filter((t) => t.merged).length, copied: planned.filter((t) => !t.merged && !t.baked).length,
      vaeBaked: planned.filter((t) => t.baked).length, discarded: a.keys().length - keys.length,
      inpainting: ctx.flags.inpainting, instructPix2Pix: ctx.flags.instructPix2Pix,
    }
  } finally {
    for (const s of opened) await s.close()
  }
}

const CONV_IN = 'model.diffusion_model.input_blocks.0.0.weight'
const inputChannels = (s: TensorSource): number | undefined => (s.has(CONV_IN) ? s.info(CONV_IN).shape[1] : undefined)
