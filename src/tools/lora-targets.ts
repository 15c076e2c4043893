/**
 * Which checkpoint layers a LoRA extraction covers, and the kohya module name each gets, as kohya's
 * `networks/lora.py` targets them (sd-scripts, `LoRANetwork`):
 *   UNet  Transformer2DModel: attn1/attn2 to_q/to_k/to_v/to_out.0, ff.net.0.proj, ff.net.2, proj_in, proj_out
 *         (Linear, or 1×1 Conv in SD1); with a conv rank also ResnetBlock2D / Downsample2D / Upsample2D
 *         (in_layers.2 / out_layers.3 3×3 convs, skip_connection, emb_layers.1, op, conv)
 *   TE    CLIPAttention q/k/v/out_proj and CLIPMLP fc1/fc2 of every encoder layer.
 * Names are written in the LDM form every kohya SDXL LoRA uses (`lora_unet_input_blocks_4_1_…`), which A1111 and
 * sdloom resolve for SD1/SD2 too. open_clip text encoders (SD2, SDXL's second) hold q/k/v in one `in_proj_weight`:
 * each is a row range of it, named `…_self_attn_q_proj` etc. as kohya names the HF-converted layer.
 */
import type { Arch, Component } from '../adapters/types.ts'

export interface ExtractTarget {
  /** Checkpoint key of the weight. */
  readonly key: string
  /** kohya module name (`lora_unet_…`, `lora_te_…`, `lora_te1_…`, `lora_te2_…`). */
  readonly name: string
  readonly component: Component
  /** For q/k/v of an open_clip in_proj_weight: the rows of this projection. */
  readonly rows?: { readonly start: number; readonly end: number }
  /** Rank option that applies: `conv` for ResBlock/sampler convs (kohya's conv_dim), else `linear`. */
  readonly rankKind: 'linear' | 'conv'
  /**
   * Part of an open_clip attention (q/k/v rows or out_proj): A1111 applies those four only together, so they are
   * extracted together (never skipped one by one for a small difference).
   */
  readonly mha?: true
}

const UNET = 'model.diffusion_model.'
const TRANSFORMER_LAYER = /\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj|ff\.net\.2|proj_in|proj_out)\.weight$/
const CONV_LAYER = /^(input_blocks|middle_block|output_blocks)\.\d+\.(\d+\.)?(in_layers\.2|out_layers\.3|skip_connection|emb_layers\.1|op|conv)\.weight$/

/** HF CLIP text encoders: prefix of `text_model.` per arch and the kohya prefix. */
const HF_TE: Readonly<Record<Arch, readonly { prefix: string; kohya: string; component: Component }[]>> = {
  sd1: [{ prefix: 'cond_stage_model.transformer.', kohya: 'lora_te_', component: 'te1' }],
  sd2: [],
  sdxl: [{ prefix: 'conditioner.embedders.0.transformer.', kohya: 'lora_te1_', component: 'te1' }],
}
const OPEN_CLIP_TE: Readonly<Record<Arch, readonly { prefix: string; kohya: string; component: Component }[]>> = {
  sd1: [],
  sd2: [{ prefix: 'cond_stage_model.model.transformer.resblocks.', kohya: 'lora_te_', component: 'te1' }],
  sdxl: [{ prefix: 'conditioner.embedders.1.model.transformer.resblocks.', kohya: 'lora_te2_', component: 'te2' }],
}
const HF_LAYER = /^text_model\.encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/
const OPEN_CLIP_SUFFIX: Readonly<Record<string, string>> = { 'attn.out_proj.weight': 'self_attn_out_proj', 'mlp.c_fc.weight': 'mlp_fc1', 'mlp.c_proj.weight': 'mlp_fc2' }

const underscored = (path: string): string => path.replace(/\.weight$/, '').replaceAll('.', '_')

function unetTarget(key: string, conv: boolean): ExtractTarget | undefined {
  if (!key.startsWith(UNET)) return undefined
  const rest = key.slice(UNET.length)
  const name = `lora_unet_${underscored(rest)}`
  if (TRANSFORMER_LAYER.test(key)) return { key, name, component: 'unet', rankKind: 'linear' }
  if (conv && CONV_LAYER.test(rest)) return { key, name, component: 'unet', rankKind: rest.includes('emb_layers') ? 'linear' : 'conv' }
  return undefined
}

function teTargets(key: string, shape: readonly number[], arch: Arch): ExtractTarget[] {
  for (const te of HF_TE[arch]) {
    if (key.startsWith(te.prefix) && HF_LAYER.test(key.slice(te.prefix.length))) {
      return [{ key, name: `${te.kohya}${underscored(key.slice(te.prefix.length))}`, component: te.component, rankKind: 'linear' }]
    }
  }
  for (const te of OPEN_CLIP_TE[arch]) {
    const m = key.startsWith(te.prefix) ? /^(\d+)\.(.+)$/.exec(key.slice(te.prefix.length)) : null
    if (!m) continue
    const base = `${te.kohya}text_model_encoder_layers_${m[1]}_`
    if (m[2] === 'attn.in_proj_weight') {
      const c = shape[0] / 3
      return (['q', 'k', 'v'] as const).map((p, i) => ({
        key, name: `${base}self_attn_${p}_proj`, component: te.component, rows: { start: i * c, end: (i + 1) * c }, rankKind: 'linear' as const, mha: true as const,
      }))
    }
    const suffix = OPEN_CLIP_SUFFIX[m[2]]
    if (suffix) return [{ key, name: `${base}${suffix}`, component: te.component, rankKind: 'linear', ...(suffix === 'self_attn_out_proj' ? { mha: true as const } : {}) }]
  }
  return []
}

/** Every layer of a checkpoint a LoRA extraction covers, in key order. */
export function extractTargets(keys: readonly string[], shapeOf: (key: string) => readonly number[], arch: Arch, o: { conv: boolean }): ExtractTarget[] {
  return keys.flatMap((key) => {
    const shape = shapeOf(key)
    if (shape.length !== 2 && shape.length !== 4) return []
    const u = unetTarget(key, o.conv)
    return u ? [u] : teTargets(key, shape, arch)
  })
}
