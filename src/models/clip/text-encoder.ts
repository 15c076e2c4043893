/*
 * A text encoder ready to run: config measured from the weights, graph built for the requested outputs, ORT session.
 * Presets give the layer choices of each family as A1111 runs them.
 */
import { InputError } from '../../core/errors.ts'
import type { HostTensor } from '../../core/host-tensor.ts'
import { GraphSession, type Feed } from '../../graph/session.ts'
import type { LowRankLayout } from '../../nn/low-rank.ts'
import { measureTextEncoder, tokenEmbeddingKey, type TextEncoderConfig, type TextEncoderKind } from './config.ts'
import { embedTokens, type EmbeddingFix, type TextWeights } from './embed.ts'
import { buildTextEncoderGraph, type TextEncoderOutputs } from './tower.ts'

export interface TextEncoderSpec extends TextEncoderOutputs {
  readonly kind: TextEncoderKind
  /** Key prefix ending in '.'. */
  readonly prefix: string
}

/**
 * How A1111 runs each family's encoder(s). SD1's `layer` is the user's "Clip skip" (1 = last layer; final norm applied
 * either way). SD2: penultimate resblock + ln_final (clip skip ignored). SDXL: CLIP-L hidden_states[-2] without final
 * norm; bigG penultimate without ln_final, plus pooled = ln_final(last)[eos] @ text_projection.
 */
export const TEXT_ENCODER_PRESETS = {
  sd1: { kind: 'clip', prefix: 'cond_stage_model.transformer.text_model.', layer: 1, finalNorm: true, pooled: false },
  sd2: { kind: 'open-clip', prefix: 'cond_stage_model.model.', layer: 2, finalNorm: true, pooled: false },
  sdxlClipL: { kind: 'clip', prefix: 'conditioner.embedders.0.transformer.text_model.', layer: 2, finalNorm: false, pooled: false },
  sdxlBigG: { kind: 'open-clip', prefix: 'conditioner.embedders.1.model.', layer: 2, finalNorm: false, pooled: true },
  /** sd_xl_refiner.yaml: the same FrozenOpenCLIPEmbedder2 (penultimate, pooled), the refiner's only text encoder. */
  sdxlRefinerBigG: { kind: 'open-clip', prefix: 'conditioner.embedders.0.model.', layer: 2, finalNorm: false, pooled: true },
} as const satisfies Record<string, TextEncoderSpec>

export interface TextEncoderResult {
  /** [B, T, C] */
  readonly hidden: HostTensor
  /** [B, E] when the spec asked for it. */
  readonly pooled: HostTensor | undefined
}

export class TextEncoderSession {
  private constructor(
    readonly config: TextEncoderConfig,
    readonly spec: TextEncoderSpec,
    private readonly session: GraphSession,
    private readonly weights: TextWeights,
  ) {}

  /** `lowRank`: unmerged low-rank adapter branches (nn/low-rank.ts), fed from `weights` like the other weights. */
  static async create(weights: TextWeights, spec: TextEncoderSpec, opts: { threads?: number; lowRank?: LowRankLayout } = {}): Promise<TextEncoderSession> {
    const config = measureTextEncoder(weights, spec.kind, spec.prefix)
    const built = buildTextEncoderGraph(weights, config, spec, opts.lowRank)
    const session = await GraphSession.create(built.graph, { weightKeys: built.weightKeys, threads: opts.threads })
    return new TextEncoderSession(config, spec, session, weights)
  }

  /** ids [T] → inputs_embeds [1, T, C] from this encoder's token table, with textual-inversion fixes applied. */
  embed(ids: readonly number[], fixes: readonly EmbeddingFix[] = []): HostTensor {
    return embedTokens(this.weights, tokenEmbeddingKey(this.config), ids, fixes)
  }

  /**
   * embeds [B, T, C]; eosIndex[b] = argmax of row b's ids (the first EOS, as transformers and open_clip pool),
   * needed only when the spec asks for pooled.
   */
  async run(embeds: HostTensor, eosIndex: readonly number[] = []): Promise<TextEncoderResult> {
    const [b, t, c] = embeds.shape
    if (embeds.shape.length !== 3 || t !== this.config.positions || c !== this.config.width) {
      throw new InputError(`text encoder "${this.config.prefix}": inputs_embeds must be [B, ${this.config.positions}, `
        + `${this.config.width}], got [${embeds.shape.join(', ')}]`)
    }
    const inputs: Record<string, Feed> = { inputs_embeds: embeds }
    if (this.spec.pooled) {
      if (eosIndex.length !== b) throw new InputError(`text encoder "${this.config.prefix}": ${eosIndex.length} EOS positions for a batch of ${b}`)
      inputs.eos_index = { shape: [b], data: BigInt64Array.from(eosIndex, (i) => BigInt(i)) }
    }
    const out = await this.session.run(inputs, this.weights)
    return { hidden: out.hidden, pooled: out.pooled }
  }

  async release(): Promise<void> { await this.session.release() }
}

/** Index of the first maximum (torch argmax / numpy argmax semantics): the first EOS for CLIP token ids. */
export function argmaxId(ids: readonly number[]): number {
  let best = 0
  for (let i = 1; i < ids.length; i++) if (ids[i] > ids[best]) best = i
  return best
}
