/*
 * HF transformers CLIPTextModel (CLIP ViT-L/14 text tower of SD1.x and SDXL's first encoder), pre-LN layers with
 * quick_gelu. Port of transformers v4.33 modeling_clip.py (CLIPTextEmbeddings without the token lookup, which runs on
 * the host so textual-inversion vectors can replace positions; CLIPEncoderLayer; final_layer_norm).
 * https://github.com/huggingface/transformers/blob/v4.33.0/src/transformers/models/clip/modeling_clip.py
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { keyedBinder, param, type Bound, type ShapeSource } from '../../nn/module.ts'
import { layerNormForward, linear, linearForward, norm, quickGelu } from '../../nn/layers.ts'
import { causalMask, causalSelfAttention } from './attention.ts'
import type { TextEncoderConfig } from './config.ts'
import type { Tower, TowerSpan } from './tower.ts'

const clipLayer = (c: number, mlp: number) => ({
  layer_norm1: norm(c),
  self_attn: { q_proj: linear(c, c), k_proj: linear(c, c), v_proj: linear(c, c), out_proj: linear(c, c) },
  layer_norm2: norm(c),
  mlp: { fc1: linear(c, mlp), fc2: linear(mlp, c) },
})
type ClipLayer = ReturnType<typeof clipLayer>

/** The parameters a run of the first `layers` layers needs (token_embedding stays on the host). */
export const clipTextTree = (cfg: TextEncoderConfig, layers: number) => ({
  embeddings: { position_embedding: { weight: param(cfg.positions, cfg.width) } },
  encoder: { layers: Array.from({ length: layers }, () => clipLayer(cfg.width, cfg.mlpWidth)) },
})

// x [B, T, C] → [B, T, C]
function clipLayerForward(g: Graph, p: Bound<ClipLayer>, x: Value, a: { heads: number; mask: Value }): Value {
  const h = layerNormForward(g, p.layer_norm1, x)
  const attn = g.scope('self_attn', () => causalSelfAttention(g, {
    q: linearForward(g, p.self_attn.q_proj, h),
    k: linearForward(g, p.self_attn.k_proj, h),
    v: linearForward(g, p.self_attn.v_proj, h),
  }, a.heads, a.mask))
  x = op.add(g, x, linearForward(g, p.self_attn.out_proj, attn))
  const m = g.scope('mlp', () => linearForward(g, p.mlp.fc2, quickGelu(g, linearForward(g, p.mlp.fc1, layerNormForward(g, p.layer_norm2, x)))))
  return op.add(g, x, m)
}

export function clipTextTower(g: Graph, src: ShapeSource, cfg: TextEncoderConfig, span: TowerSpan): Tower {
  const b = keyedBinder(g, src, 'CLIP text encoder')
  const p = b.bind(clipTextTree(cfg, span.layers), cfg.prefix)
  const finalLn = span.finalNorm ? b.bind(norm(cfg.width), `${cfg.prefix}final_layer_norm.`) : undefined
  const mask = causalMask(g, cfg.positions)
  return {
    weightKeys: b.keys,
    embed: (x) => op.add(g, x, p.embeddings.position_embedding.weight),              // [B, T, C] + [T, C]
    layer: (i, x) => clipLayerForward(g, p.encoder.layers[i], x, { heads: cfg.heads, mask }),
    finalNorm: finalLn && ((x) => layerNormForward(g, finalLn, x)),
    project: undefined,
  }
}
