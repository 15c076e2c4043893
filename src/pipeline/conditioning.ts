/*
 * Prompt + negative prompt → the conditioning the UNet sees at each denoiser call, as A1111 1.8 builds it
 * (processing.py setup_conds → prompt_parser.get_multicond_learned_conditioning / get_learned_conditioning):
 *  - the positive prompt is split at AND; each part's prompt-editing schedule is encoded as ONE batch of texts (so
 *    emphasis means span that batch, as A1111's z.mean() does); the negative prompt likewise, without AND;
 *  - every distinct schedule entry is encoded once; the conditioning switches only where a schedule says so;
 *  - SD1: CLIP-L with clip skip; SD2: OpenCLIP penultimate + ln_final, 0 after EOS (clip skip ignored);
 *    SDXL: CLIP-L | bigG per token, vector = bigG pooled (first chunk) + Fourier size ids; an all-empty negative
 *    prompt is zeros (force_zero_negative_prompt) with the size ids kept;
 *    SDXL refiner: bigG alone, vector = pooled + Fourier size ids + Fourier aesthetic score (6.0 prompts, 2.5 negatives).
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/modules/prompt_parser.py
 */
import { InputError } from '../core/errors.ts'
import { argmaxId, SDXL_REFINER_AESTHETIC, sdxlRefinerEmbedding, sdxlSizeEmbedding, sdxlSizeFor, type TextEncoderSession } from '../models/clip/index.ts'
import {
  encodeTexts, entryAtStep, planNegativePrompt, planPositivePrompt,
  type ChunkEncoder, type ClipTokenizer, type EmbeddingIndex, type EncodedText, type ScheduledText,
} from '../prompt/index.ts'
import type { LoadedModel, TextEncoders } from './load-model.ts'

/** Textual-inversion embeddings for the chunker and the encoders (filled by the adapters layer). */
export interface PromptEmbeddings {
  readonly index: EmbeddingIndex
  /** The named embedding's rows for one encoder: 'te1' = SD1/SD2's encoder or SDXL's CLIP-L, 'te2' = SDXL's bigG. */
  vectors(name: string, encoder: 'te1' | 'te2'): readonly Float32Array[]
  /** Called with each embedding name a prompt used (for the infotext's TI hashes). */
  used?(name: string): void
}

export interface ConditioningRequest {
  readonly prompt: string
  readonly negativePrompt: string
  /** A1111 total_steps: steps, ×2 for second-order samplers (the step counter counts denoiser calls). */
  readonly scheduleSteps: number
  /** A hires pass's total_steps (its prompt-editing schedule counts from the end of the first pass). */
  readonly hiresSteps?: number
  readonly clipSkip: number
  readonly tokenizer: ClipTokenizer
  readonly embeddings?: PromptEmbeddings
  /** Image size (SDXL size conditioning). */
  readonly width: number
  readonly height: number
  /** The SDXL refiner's aesthetic scores (A1111 sdxl_refiner_high/low_aesthetic_score; default 6.0 / 2.5). */
  readonly aestheticScores?: { readonly positive: number; readonly negative: number }
}

/** One prompt's conditioning at one step: context [tokens, dim] and, for SDXL, vector [adm]. */
export interface Cond {
  readonly context: Float32Array
  readonly tokens: number
  readonly dim: number
  readonly vector?: Float32Array
}

export interface PromptConditioning {
  /** AND-part weights of the positive prompt (CFG spec per image). */
  readonly weights: readonly number[]
  /** The positive prompt with extra networks removed (what A1111 encodes). */
  readonly text: string
  /** Per AND-part conditioning at denoiser call `step` (0-based). */
  condAt(step: number): readonly Cond[]
  uncondAt(step: number): Cond
}

interface Encoded { readonly schedule: readonly ScheduledText[]; readonly byText: ReadonlyMap<string, Cond> }

const atStep = (e: Encoded, step: number): Cond => e.byText.get(entryAtStep(e.schedule, step).text) as Cond

export async function buildConditioning(model: LoadedModel, req: ConditioningRequest): Promise<PromptConditioning> {
  const options = { steps: req.scheduleSteps, ...(req.hiresSteps !== undefined ? { hiresSteps: req.hiresSteps } : {}) }
  const positive = planPositivePrompt(req.prompt, options)
  const negative = planNegativePrompt(req.negativePrompt, options)
  const encoders = await model.textEncoders(model.arch === 'sd1' ? req.clipSkip : 1)
  const parts: Encoded[] = []
  for (const part of positive.parts) parts.push(await encodeSchedule(encoders, part.schedule, req, false))
  const uncond = await encodeSchedule(encoders, negative.schedule, req, true)
  return {
    weights: positive.parts.map((p) => p.weight),
    text: positive.text,
    condAt: (step) => parts.map((p) => atStep(p, step)),
    uncondAt: (step) => atStep(uncond, step),
  }
}

async function encodeSchedule(encoders: TextEncoders, schedule: readonly ScheduledText[], req: ConditioningRequest,
  isNegative: boolean): Promise<Encoded> {
  const texts = schedule.map((e) => e.text)
  const zero = isNegative && texts.every((t) => t === '')
  const conds = encoders.arch === 'sdxl' ? await encodeSdxl(encoders, texts, req, zero)
    : encoders.arch === 'sdxl-refiner' ? await encodeRefiner(encoders.bigG, texts, req, { isNegative, zero })
      : (await encodeWith(encoders.encoder, 'te1', texts, req)).map((e): Cond => ({ context: e.z, tokens: e.tokens, dim: e.dim }))
  return { schedule, byText: new Map(texts.map((t, i) => [t, conds[i]])) }
}

/** The models' text encoder as the prompt layer's chunk encoder, embedding vectors spliced in at their fixes. */
function chunkEncoder(session: TextEncoderSession, which: 'te1' | 'te2', embeddings: PromptEmbeddings | undefined): ChunkEncoder {
  return async (ids, fixes) => {
    const modelFixes = fixes.map((f) => {
      if (!embeddings) throw new InputError(`prompt uses embedding "${f.name}" but no embeddings were loaded`)
      embeddings.used?.(f.name)
      return { offset: f.offset, vectors: embeddings.vectors(f.name, which).slice(0, f.vectors) }
    })
    const out = await session.run(session.embed(ids, modelFixes), [argmaxId(ids)])
    return { z: out.hidden.data, pooled: out.pooled?.data }
  }
}

function encodeWith(session: TextEncoderSession, which: 'te1' | 'te2', texts: readonly string[], req: ConditioningRequest): Promise<EncodedText[]> {
  const openClip = session.config.kind === 'open-clip'
  const tokenizer = req.tokenizer.withFlavor(openClip ? 'open-clip' : 'clip')
  return encodeTexts(texts, {
    tokenizer, embeddings: req.embeddings?.index, padId: openClip ? 0 : tokenizer.eos,
    encode: chunkEncoder(session, which, req.embeddings),
  })
}

/** crossattn = CLIP-L | bigG per token; vector = pooled (first chunk) + size ids; zeros for an empty negative. */
async function encodeSdxl(encoders: Extract<TextEncoders, { arch: 'sdxl' }>, texts: readonly string[], req: ConditioningRequest,
  zero: boolean): Promise<Cond[]> {
  const l = await encodeWith(encoders.clipL, 'te1', texts, req)
  const g = await encodeWith(encoders.bigG, 'te2', texts, req)
  const size = sdxlSizeEmbedding(sdxlSizeFor(req.height, req.width))
  return texts.map((text, i) => {
    const [a, b] = [l[i], g[i]]
    if (a.tokens !== b.tokens) {
      throw new InputError(`SDXL: the prompt ${JSON.stringify(text)} gives ${a.tokens / 77} CLIP-L chunks but ${b.tokens / 77} bigG chunks`)
    }
    const dim = a.dim + b.dim
    const pooled = b.pooled ?? new Float32Array(0)
    const context = new Float32Array(a.tokens * dim)
    const vector = new Float32Array(pooled.length + size.length)
    vector.set(size, pooled.length)
    if (!zero) {
      for (let r = 0; r < a.tokens; r++) {
        context.set(a.z.subarray(r * a.dim, (r + 1) * a.dim), r * dim)
        context.set(b.z.subarray(r * b.dim, (r + 1) * b.dim), r * dim + a.dim)
      }
      vector.set(pooled, 0)
    }
    return { context, tokens: a.tokens, dim, vector }
  })
}

/** The refiner: crossattn = bigG; vector = pooled (first chunk) + size ids + aesthetic score; zeros for an empty negative. */
async function encodeRefiner(bigG: TextEncoderSession, texts: readonly string[], req: ConditioningRequest,
  o: { readonly isNegative: boolean; readonly zero: boolean }): Promise<Cond[]> {
  const scores = req.aestheticScores ?? SDXL_REFINER_AESTHETIC
  const ids = sdxlRefinerEmbedding(sdxlSizeFor(req.height, req.width), o.isNegative ? scores.negative : scores.positive)
  return (await encodeWith(bigG, 'te2', texts, req)).map((g): Cond => {
    const pooled = g.pooled ?? new Float32Array(0)
    const vector = new Float32Array(pooled.length + ids.length)
    vector.set(ids, pooled.length)
    if (!o.zero) vector.set(pooled, 0)
    return { context: o.zero ? new Float32Array(g.z.length) : g.z, tokens: g.tokens, dim: g.dim, vector }
  })
}
