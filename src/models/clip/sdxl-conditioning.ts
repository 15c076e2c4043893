/*
 * SDXL conditioning as A1111 builds it (modules/sd_models_xl.py get_learned_conditioning over sgm's
 * GeneralConditioner, generative-models @ 45c443b3):
 *  - crossattn = cat(CLIP-L z, bigG z) on channels, each encoder chunked and emphasised on its own;
 *  - vector = cat(bigG pooled of the first chunk, Fourier(original h, w), Fourier(crop top, left), Fourier(target h, w));
 *  - an EMPTY NEGATIVE prompt is all zeros in crossattn and pooled (force_zero_embeddings=['txt']); sizes are kept.
 * The refiner (sd_xl_refiner.yaml) has bigG alone: crossattn = bigG z, vector = cat(bigG pooled, Fourier(original h,
 * w), Fourier(crop top, left), Fourier(aesthetic score)); A1111 passes sdxl_refiner_high_aesthetic_score (6.0) for
 * prompts and sdxl_refiner_low_aesthetic_score (2.5) for negative prompts.
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { encodeChunks, type PromptChunk } from './encode.ts'
import type { TextEncoderSession } from './text-encoder.ts'

/** The six size conditioning numbers (sgm `original_size_as_tuple`, `crop_coords_top_left`, `target_size_as_tuple`). */
export interface SdxlSizeConditioning {
  readonly originalHeight: number
  readonly originalWidth: number
  readonly cropTop: number
  readonly cropLeft: number
  readonly targetHeight: number
  readonly targetWidth: number
}

/** A1111 uses the generation size for both sizes and crop (0, 0). */
export const sdxlSizeFor = (height: number, width: number): SdxlSizeConditioning => ({
  originalHeight: height, originalWidth: width, cropTop: 0, cropLeft: 0, targetHeight: height, targetWidth: width,
})

const FOURIER_DIM = 256

/** A1111's defaults of sdxl_refiner_high_aesthetic_score / sdxl_refiner_low_aesthetic_score. */
export const SDXL_REFINER_AESTHETIC = { positive: 6, negative: 2.5 } as const

/** [1536]: Fourier(original h, w), Fourier(crop top, left), Fourier(target h, w). */
export const sdxlSizeEmbedding = (s: SdxlSizeConditioning): Float32Array =>
  fourierEmbedding([s.originalHeight, s.originalWidth, s.cropTop, s.cropLeft, s.targetHeight, s.targetWidth])

/** The refiner's [1280]: Fourier(original h, w), Fourier(crop top, left), Fourier(aesthetic score); no target size. */
export const sdxlRefinerEmbedding = (s: SdxlSizeConditioning, aestheticScore: number): Float32Array =>
  fourierEmbedding([s.originalHeight, s.originalWidth, s.cropTop, s.cropLeft, aestheticScore])

/**
 * [256 · n]: each number → 256 sinusoids, cos first, freqs exp(-ln(10000)·i/128) (sgm ConcatTimestepEmbedderND over
 * timestep_embedding), with the float32 roundings torch makes so results match bit-closely.
 */
function fourierEmbedding(values: readonly number[]): Float32Array {
  const half = FOURIER_DIM / 2
  const f = Math.fround
  const freqs = Array.from({ length: half }, (_, i) => f(Math.exp(f(f(f(-Math.log(10000)) * i) / half))))
  const out = new Float32Array(values.length * FOURIER_DIM)
  values.forEach((v, k) => {
    for (let i = 0; i < half; i++) {
      const arg = f(v * freqs[i])
      out[k * FOURIER_DIM + i] = Math.cos(arg)
      out[k * FOURIER_DIM + half + i] = Math.sin(arg)
    }
  })
  return out
}

export interface SdxlConditioning {
  /** [1, 77·k, C_L + C_G] */
  readonly crossattn: HostTensor
  /** [1, E + 1536] */
  readonly vector: HostTensor
}

export interface SdxlPromptChunks {
  /** A1111 chunks of the CLIP-L wrapper (EOS padding, clip_l textual-inversion vectors). */
  readonly clipL: readonly PromptChunk[]
  /** The same chunks for bigG (its own clip_g vectors; 0-after-EOS is applied here). */
  readonly bigG: readonly PromptChunk[]
}

export async function encodeSdxlConditioning(
  encoders: { readonly clipL: TextEncoderSession; readonly bigG: TextEncoderSession },
  chunks: SdxlPromptChunks,
  opts: { readonly size: SdxlSizeConditioning; readonly emptyNegative?: boolean },
): Promise<SdxlConditioning> {
  if (chunks.clipL.length !== chunks.bigG.length) {
    throw new InputError(`SDXL conditioning: ${chunks.clipL.length} CLIP-L chunks but ${chunks.bigG.length} bigG chunks; both encoders chunk the same text`)
  }
  const cl = encoders.clipL.config.width
  const cg = encoders.bigG.config.width
  const e = encoders.bigG.config.projectionDim ?? cg
  const k = chunks.clipL.length
  const t = encoders.clipL.config.positions
  const size = sdxlSizeEmbedding(opts.size)
  const vector = new Float32Array(e + size.length)
  vector.set(size, e)
  const crossattn = new Float32Array(k * t * (cl + cg))
  if (!opts.emptyNegative) {
    const l = await encodeChunks(encoders.clipL, chunks.clipL)
    const g = await encodeChunks(encoders.bigG, chunks.bigG)
    if (!g.pooled) throw new InputError('SDXL conditioning: the bigG encoder was built without pooled output (use TEXT_ENCODER_PRESETS.sdxlBigG)')
    for (let r = 0; r < k * t; r++) {
      crossattn.set(l.cond.data.subarray(r * cl, (r + 1) * cl), r * (cl + cg))
      crossattn.set(g.cond.data.subarray(r * cg, (r + 1) * cg), r * (cl + cg) + cl)
    }
    vector.set(g.pooled.data, 0)
  }
  return { crossattn: { shape: [1, k * t, cl + cg], data: crossattn }, vector: { shape: [1, vector.length], data: vector } }
}
