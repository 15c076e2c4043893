/*
 * The graph both text towers share: inputs_embeds [B, T, C] (token lookup done on the host) + position embedding,
 * N pre-LN layers, then the requested hidden state and, optionally, the pooled vector.
 *
 * hidden_states follow transformers: hidden_states[0] = embeddings, hidden_states[i] = output of layer i, so
 * hidden_states[-n] (n = `layer`, A1111's "Clip skip" n) is the output of layer L+1-n. Layers past that are built only
 * when the pooled output (which needs the last layer) is asked for.
 */
import { Graph, type Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { InputError } from '../../core/errors.ts'
import { lowRankInputs, useLowRank, type LowRankLayout } from '../../nn/low-rank.ts'
import type { ShapeSource } from '../../nn/module.ts'
import { clipTextTower } from './clip-text.ts'
import type { TextEncoderConfig } from './config.ts'
import { openClipTextTower } from './open-clip-text.ts'

/** Which parameters a graph needs: the first `layers` layers, and the final norm / projection if used. */
export interface TowerSpan { readonly layers: number; readonly finalNorm: boolean; readonly projection: boolean }

export interface Tower {
  /** Checkpoint keys of every bound parameter (the session feeds these). */
  readonly weightKeys: readonly string[]
  embed(x: Value): Value
  layer(i: number, x: Value): Value
  readonly finalNorm: ((x: Value) => Value) | undefined
  readonly project: ((x: Value) => Value) | undefined
}

export interface TextEncoderOutputs {
  /** Output hidden_states[-layer]: 1 = last layer, 2 = penultimate (A1111 "Clip skip 2", SD2, SDXL). */
  readonly layer: number
  /** Apply the final layer norm to that hidden state (SD1 always; SD2 yes; SDXL no). */
  readonly finalNorm: boolean
  /**
   * Also output `pooled` [B, E]: final norm of the LAST layer at `eos_index` (argmax of the ids), times
   * text_projection where the tower has one (open_clip); HF CLIP's is transformers' pooler_output [B, C].
   */
  readonly pooled: boolean
}

export interface BuiltTextEncoder { readonly graph: Graph; readonly weightKeys: readonly string[] }

/** `lowRank`: unmerged low-rank adapter branches (nn/low-rank.ts); their slot inputs join `weightKeys`. */
export function buildTextEncoderGraph(src: ShapeSource, cfg: TextEncoderConfig, out: TextEncoderOutputs, lowRank?: LowRankLayout): BuiltTextEncoder {
  if (!Number.isInteger(out.layer) || out.layer < 1 || out.layer > cfg.layers) {
    throw new InputError(`text encoder: hidden layer ${out.layer} from the end was asked for, but the encoder `
      + `under "${cfg.prefix}" has ${cfg.layers} layers. Hint: clip skip must be between 1 and ${cfg.layers}.`)
  }
  const hiddenAt = cfg.layers + 1 - out.layer
  const span: TowerSpan = { layers: out.pooled ? cfg.layers : hiddenAt, finalNorm: out.finalNorm || out.pooled, projection: out.pooled }
  const g = new Graph(`text-encoder-${cfg.kind}`)
  useLowRank(g, lowRank)
  const inputsEmbeds = g.input('inputs_embeds', 'float32', ['batch', cfg.positions, cfg.width])
  const eosIndex = out.pooled ? g.input('eos_index', 'int64', ['batch']) : undefined
  const tower = cfg.kind === 'clip' ? clipTextTower(g, src, cfg, span) : openClipTextTower(g, src, cfg, span)
  let x = g.scope('embeddings', () => tower.embed(inputsEmbeds))
  let hidden = x
  for (let i = 0; i < span.layers; i++) {
    x = g.scope(`layers.${i}`, () => tower.layer(i, x))
    if (i + 1 === hiddenAt) hidden = x
  }
  const finalNorm = (v: Value): Value => g.scope('final_norm', () => tower.finalNorm!(v))
  const normedLast = out.pooled || (out.finalNorm && hiddenAt === span.layers) ? finalNorm(x) : undefined
  g.output('hidden', !out.finalNorm ? hidden : hiddenAt === span.layers ? normedLast! : finalNorm(hidden))
  if (eosIndex) {
    const pooled = op.gatherRows(g, normedLast!, eosIndex)                                 // [B, C]
    g.output('pooled', tower.project ? tower.project(pooled) : pooled)
  }
  return { graph: g, weightKeys: [...tower.weightKeys, ...lowRankInputs(g, tower.weightKeys)] }
}
