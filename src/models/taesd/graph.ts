/*
 * TAESD decoder and encoder graphs from the measured layout (layout.ts). Weights are graph inputs named by their
 * file keys, bound and shape-checked in one pass (nn/module.ts bind).
 */
import { Graph, type Value } from '../../graph/builder.ts'
import * as op from '../../graph/ops.ts'
import { conv2dForward, type Conv2d } from '../../nn/layers.ts'
import { keyedBinder, type Bound, type ShapeSource } from '../../nn/module.ts'
import { DECODER_LAYOUT, ENCODER_LAYOUT, taesdTree, type TaesdBlock, type TaesdConfig } from './layout.ts'

export interface BuiltTaesdGraph { readonly graph: Graph; readonly weightKeys: readonly string[] }

// x [B, C, H, W] → [B, C, H, W]: ReLU(conv.4(ReLU(conv.2(ReLU(conv.0(x))))) + skip(x))
function blockForward(g: Graph, p: Bound<TaesdBlock>, x: Value): Value {
  const c = (w: Bound<Conv2d>, v: Value) => conv2dForward(g, w, v, { pad: 1 })
  const h = c(p.conv[4], op.relu(g, c(p.conv[2], op.relu(g, c(p.conv[0], x)))))
  return op.relu(g, op.add(g, h, p.skip ? conv2dForward(g, p.skip, x) : x))
}

/**
 * Builds one half. Upsample + bias-free conv run as written (nearest ×2, then 3×3), not as the full VAE's four 2×2
 * phase convs (vae/blocks.ts upsampleForward): TAESD's weights are constants (session.ts), so onnxruntime keeps the
 * whole network in its blocked NCHWc layout, and the phase form's Concat + DepthToSpace would leave it twice per
 * upsample (reorders and DepthToSpace were 19% of a decode; as written: 0.90× the time despite 11% more FLOPs).
 */
export function buildTaesdGraph(src: ShapeSource, cfg: TaesdConfig): BuiltTaesdGraph {
  const decoder = cfg.part === 'decoder'
  const layout = decoder ? DECODER_LAYOUT : ENCODER_LAYOUT
  const g = new Graph(`taesd-${cfg.part}`)
  const b = keyedBinder(g, src, `TAESD ${cfg.part}`)
  const p = b.bind(taesdTree(cfg), cfg.prefix)
  const input = decoder ? g.input('latent', 'float32', ['batch', cfg.latentChannels, 'h', 'w'])
    : g.input('image', 'float32', ['batch', 3, 'h', 'w'])
  let x = input
  for (let i = 0; i < layout.length; i++) {
    const kind = layout[i]
    if (kind === 'upsample') continue                                 // folded into the next conv (convNoBias)
    x = g.scope(String(i), () => {
      switch (kind) {
        case 'clamp': return op.mul(g, op.tanh(g, op.div(g, x, op.scalarF32(g, 3))), op.scalarF32(g, 3))
        case 'relu': return op.relu(g, x)
        case 'block': return blockForward(g, p[i] as Bound<TaesdBlock>, x)
        case 'conv': return conv2dForward(g, p[i] as Bound<Conv2d>, x, { pad: 1 })
        case 'down': return conv2dForward(g, p[i] as Bound<Conv2d>, x, { pad: 1, stride: 2 })
        case 'convNoBias': return conv2dForward(g, p[i] as Bound<Conv2d>, op.upsample2x(g, x), { pad: 1 })
      }
    })
  }
  g.output(decoder ? 'image' : 'latent', x)
  return { graph: g, weightKeys: b.keys }
}
