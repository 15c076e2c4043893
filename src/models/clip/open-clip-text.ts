/*
 * open_clip text tower (OpenCLIP ViT-H/14 of SD2.x, ViT-bigG/14 of SDXL): pre-LN ResidualAttentionBlocks over
 * torch nn.MultiheadAttention (fused in_proj: q/k/v = row slices 0:C, C:2C, 2C:3C of [3C, C]), exact-erf gelu MLP,
 * ln_final, text_projection [C, E] applied as x @ P. The token lookup runs on the host (see embed.ts).
 * https://github.com/mlfoundations/open_clip/blob/bb6e834e/src/open_clip/transformer.py (ResidualAttentionBlock)
 * https://github.com/mlfoundations/open_clip/blob/bb6e834e/src/open_clip/model.py (encode_text)
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { keyedBinder, param, type Bound, type ShapeSource } from '../../nn/module.ts'
import { layerNormForward, linear, linearForward, norm } from '../../nn/layers.ts'
import { causalMask, causalSelfAttention } from './attention.ts'
import type { TextEncoderConfig } from './config.ts'
import type { Tower, TowerSpan } from './tower.ts'

const resblock = (c: number, mlp: number) => ({
  ln_1: norm(c),
  attn: { in_proj_weight: param(3 * c, c), in_proj_bias: param(3 * c), out_proj: linear(c, c) },
  ln_2: norm(c),
  mlp: { c_fc: linear(c, mlp), c_proj: linear(mlp, c) },
})
type Resblock = ReturnType<typeof resblock>

/** The parameters a run of the first `layers` resblocks needs (token_embedding stays on the host). */
export const openClipTextTree = (cfg: TextEncoderConfig, layers: number) => ({
  positional_embedding: param(cfg.positions, cfg.width),
  transformer: { resblocks: Array.from({ length: layers }, () => resblock(cfg.width, cfg.mlpWidth)) },
})

// x [B, T, C] → [B, T, C]
function resblockForward(g: Graph, p: Bound<Resblock>, x: Value, a: { heads: number; mask: Value }): Value {
  const c = x.shape[2] as number
  const h = layerNormForward(g, p.ln_1, x)
  const attn = g.scope('attn', () => {
    const qkv = linearForward(g, { weight: p.attn.in_proj_weight, bias: p.attn.in_proj_bias }, h)   // [B, T, 3C]
    const heads = causalSelfAttention(g, {
      q: op.slice(g, qkv, 2, 0, c), k: op.slice(g, qkv, 2, c, 2 * c), v: op.slice(g, qkv, 2, 2 * c, 3 * c),
    }, a.heads, a.mask)
    return linearForward(g, p.attn.out_proj, heads)
  })
  x = op.add(g, x, attn)
  const m = g.scope('mlp', () => linearForward(g, p.mlp.c_proj, op.gelu(g, linearForward(g, p.mlp.c_fc, layerNormForward(g, p.ln_2, x)))))
  return op.add(g, x, m)
}

export function openClipTextTower(g: Graph, src: ShapeSource, cfg: TextEncoderConfig, span: TowerSpan): Tower {
  const b = keyedBinder(g, src, 'OpenCLIP text encoder')
  const p = b.bind(openClipTextTree(cfg, span.layers), cfg.prefix)
  const lnFinal = span.finalNorm ? b.bind(norm(cfg.width), `${cfg.prefix}ln_final.`) : undefined
  const projection = span.projection && cfg.projectionDim !== undefined
    ? b.bind({ text_projection: param(cfg.width, cfg.projectionDim) }, cfg.prefix).text_projection : undefined
  const mask = causalMask(g, cfg.positions)
  return {
    weightKeys: b.keys,
    embed: (x) => op.add(g, x, p.positional_embedding),                                // [B, T, C] + [T, C]
    layer: (i, x) => resblockForward(g, p.transformer.resblocks[i], x, { heads: cfg.heads, mask }),
    finalNorm: lnFinal && ((x) => layerNormForward(g, lnFinal, x)),
    project: projection && ((x) => op.matmul(g, x, projection)),                       // [B, C] @ [C, E]
  }
}
