/*
 * ResBlock, Downsample and Upsample of the LDM/sgm UNet, in checkpoint key layout.
 * Upstream: https://github.com/Stability-AI/generative-models/blob/45c443b3/sgm/modules/diffusionmodules/openaimodel.py
 */
import type { Graph, Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2d, conv2dForward, groupNormPreciseForward, linear, linearForward, norm, silu } from '../../nn/layers.ts'
import { NONE, type Bound } from '../../nn/module.ts'

export const resBlock = (ch: number, embCh: number, outCh: number) => ({
  in_layers: [norm(ch), NONE /* SiLU */, conv2d(ch, outCh, 3)] as const,
  emb_layers: [NONE /* SiLU */, linear(embCh, outCh)] as const,
  out_layers: [norm(outCh), NONE /* SiLU */, NONE /* Dropout */, conv2d(outCh, outCh, 3)] as const,
  ...(ch !== outCh ? { skip_connection: conv2d(ch, outCh, 1) } : {}),
})
export type ResBlock = ReturnType<typeof resBlock>

/** x [B, ch, H, W], embSilu = SiLU(emb) [B, embCh] (shared by every block) → [B, outCh, H, W]. */
export function resBlockForward(g: Graph, p: Bound<ResBlock>, x: Value, embSilu: Value): Value {
  let h = conv2dForward(g, p.in_layers[2], silu(g, groupNormPreciseForward(g, p.in_layers[0], x)), { pad: 1 })
  h = op.add(g, h, op.unsqueeze(g, linearForward(g, p.emb_layers[1], embSilu), [2, 3]))   // + [B, outCh, 1, 1]
  h = conv2dForward(g, p.out_layers[3], silu(g, groupNormPreciseForward(g, p.out_layers[0], h)), { pad: 1 })
  const skip = p.skip_connection ? conv2dForward(g, p.skip_connection, x) : x
  return op.add(g, skip, h)
}

/** Stride-2 3×3 conv `op` (conv_resample): [B, C, H, W] → [B, C, ⌈H/2⌉, ⌈W/2⌉]. */
export const downsample = (ch: number) => ({ op: conv2d(ch, ch, 3) })
export type Downsample = ReturnType<typeof downsample>
export const downsampleForward = (g: Graph, p: Bound<Downsample>, x: Value): Value =>
  conv2dForward(g, p.op, x, { pad: 1, stride: 2 })

/**
 * A1111 mode (webui modules/sd_hijack_unet.py): always double (nearest), then the 3×3 conv; the next output
 * block's concat resizes to the skip's size. [B, C, H, W] → [B, C, 2H, 2W].
 */
export const upsample = (ch: number) => ({ conv: conv2d(ch, ch, 3) })
export type Upsample = ReturnType<typeof upsample>
export const upsampleForward = (g: Graph, p: Bound<Upsample>, x: Value): Value =>
  conv2dForward(g, p.conv, op.upsample2x(g, x), { pad: 1 })

