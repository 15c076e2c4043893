/**
 * Adapter module names → LDM checkpoint keys, the way A1111 matches them.
 *
 * Ported from A1111's Lora extension (webui v1.8/v1.9, `extensions-builtin/Lora/lora_convert.py`
 * `convert_diffusers_name_to_compvis` and `networks.py` `load_network`'s fallbacks):
 * 1. kohya names with diffusers module paths (`lora_unet_down_blocks_0_attentions_0_…`) go through the SD1 block
 *    arithmetic (also used for SDXL, where `up_blocks_0_upsamplers_0_conv` lands on a layer SDXL does not have);
 * 2. the result is looked up among the base's A1111 layer names (LDM module path with '.' → '_', UNet as
 *    `diffusion_model_…`, SD1 TE `transformer_text_model_…`, SD2 TE `model_transformer_…`, SDXL `0_transformer_…` /
 *    `1_model_transformer_…`);
 * 3. `…_[qkv]_proj` falls back to the parent (open_clip `nn.MultiheadAttention`, rows of `in_proj_weight`);
 * 4. `lora_unet` → `diffusion_model` (LDM-style names, e.g. every SDXL kohya LoRA), `lora_te1_text_model` →
 *    `0_transformer_text_model`, then → `transformer_text_model` (SD1 files written with the te1 prefix),
 *    `oft_unet` → `diffusion_model` (kohya OFT), `lycoris_` removed (LyCORIS OFT names; A1111 v1.9).
 * A1111 name → LDM key is done with a data table of the multi-word identifiers that appear in LDM module paths.
 */
import type { Arch, Component } from './types.ts'

const RESNET_SUFFIX: Readonly<Record<string, string>> = {
  conv1: 'in_layers_2', conv2: 'out_layers_3', norm1: 'in_layers_0', norm2: 'out_layers_0',
  time_emb_proj: 'emb_layers_1', conv_shortcut: 'skip_connection',
}
const resnetSuffix = (kind: string, rest: string): string => (kind === 'resnets' ? RESNET_SUFFIX[rest] ?? rest : rest)

/** A1111 `convert_diffusers_name_to_compvis` (the rules in its order; unmatched names come back unchanged). */
export function convertDiffusersNameToCompvis(key: string, isSd2: boolean): string {
  let m: RegExpExecArray | null
  if ((m = /^lora_unet_conv_in(.*)/.exec(key))) return `diffusion_model_input_blocks_0_0${m[1]}`
  if ((m = /^lora_unet_conv_out(.*)/.exec(key))) return `diffusion_model_out_2${m[1]}`
  if ((m = /^lora_unet_time_embedding_linear_(\d+)(.*)/.exec(key))) return `diffusion_model_time_embed_${Number(m[1]) * 2 - 2}${m[2]}`
  if ((m = /^lora_unet_down_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)/.exec(key))) {
    return `diffusion_model_input_blocks_${1 + Number(m[1]) * 3 + Number(m[3])}_${m[2] === 'attentions' ? 1 : 0}_${resnetSuffix(m[2], m[4])}`
  }
  if ((m = /^lora_unet_mid_block_(attentions|resnets)_(\d+)_(.+)/.exec(key))) {
    return `diffusion_model_middle_block_${m[1] === 'attentions' ? 1 : Number(m[2]) * 2}_${resnetSuffix(m[1], m[3])}`
  }
  if ((m = /^lora_unet_up_blocks_(\d+)_(attentions|resnets)_(\d+)_(.+)/.exec(key))) {
    return `diffusion_model_output_blocks_${Number(m[1]) * 3 + Number(m[3])}_${m[2] === 'attentions' ? 1 : 0}_${resnetSuffix(m[2], m[4])}`
  }
  if ((m = /^lora_unet_down_blocks_(\d+)_downsamplers_0_conv/.exec(key))) return `diffusion_model_input_blocks_${3 + Number(m[1]) * 3}_0_op`
  if ((m = /^lora_unet_up_blocks_(\d+)_upsamplers_0_conv/.exec(key))) {
    const i = Number(m[1])
    return `diffusion_model_output_blocks_${2 + i * 3}_${i > 0 ? 2 : 1}_conv`
  }
  if ((m = /^lora_te_text_model_encoder_layers_(\d+)_(.+)/.exec(key))) {
    return isSd2 ? `model_transformer_resblocks_${m[1]}_${openClipSuffix(m[2])}` : `transformer_text_model_encoder_layers_${m[1]}_${m[2]}`
  }
  if ((m = /^lora_te2_text_model_encoder_layers_(\d+)_(.+)/.exec(key))) return `1_model_transformer_resblocks_${m[1]}_${openClipSuffix(m[2])}`
  return key
}

function openClipSuffix(s: string): string {
  if (s.includes('mlp_fc1')) return s.replace('mlp_fc1', 'mlp_c_fc')
  if (s.includes('mlp_fc2')) return s.replace('mlp_fc2', 'mlp_c_proj')
  return s.replace('self_attn', 'attn')
}

/** Multi-word identifiers of LDM / HF CLIP / open_clip module paths: these underscores are not path separators. */
const COMPOUNDS: readonly string[] = [
  'final_layer_norm', 'diffusion_model', 'input_blocks', 'middle_block', 'output_blocks', 'transformer_blocks',
  'proj_in', 'proj_out', 'to_q', 'to_k', 'to_v', 'to_out', 'in_layers', 'out_layers', 'emb_layers',
  'skip_connection', 'time_embed', 'label_emb', 'text_model', 'self_attn', 'q_proj', 'k_proj', 'v_proj',
  'out_proj', 'layer_norm1', 'layer_norm2', 'c_fc', 'c_proj', 'ln_1', 'ln_2', 'ln_final', 'token_embedding',
  'position_embedding', 'in_proj', 'text_projection',
]
const COMPOUND_PARTS = COMPOUNDS.map((c) => c.split('_'))

/** `diffusion_model_input_blocks_1_1_proj_in` → `diffusion_model.input_blocks.1.1.proj_in`. */
export function underscoreToDotted(name: string): string {
  const tokens = name.split('_')
  const out: string[] = []
  for (let i = 0; i < tokens.length;) {
    const hit = COMPOUND_PARTS.find((parts) => parts.every((p, j) => tokens[i + j] === p))
    const len = hit ? hit.length : 1
    out.push(tokens.slice(i, i + len).join('_'))
    i += len
  }
  return out.join('.')
}

interface LdmPrefix { readonly a1111: string; readonly ldm: string; readonly component: Component }
/** A1111 layer-name roots per architecture and where they live in an LDM checkpoint. */
const PREFIXES: Readonly<Record<Arch, readonly LdmPrefix[]>> = {
  sd1: [
    { a1111: 'diffusion_model_', ldm: 'model.', component: 'unet' },
    { a1111: 'transformer_text_model_', ldm: 'cond_stage_model.', component: 'te1' },
  ],
  sd2: [
    { a1111: 'diffusion_model_', ldm: 'model.', component: 'unet' },
    { a1111: 'model_transformer_', ldm: 'cond_stage_model.', component: 'te1' },
  ],
  sdxl: [
    { a1111: 'diffusion_model_', ldm: 'model.', component: 'unet' },
    { a1111: '0_transformer_text_model_', ldm: 'conditioner.embedders.', component: 'te1' },
    { a1111: '1_model_transformer_', ldm: 'conditioner.embedders.', component: 'te2' },
  ],
}

/** An A1111 layer name as an LDM module path (no `.weight`), or undefined when it is not under a known root. */
export function a1111NameToLdmModule(name: string, arch: Arch): { module: string; component: Component } | undefined {
  const p = PREFIXES[arch].find((x) => name.startsWith(x.a1111))
  return p ? { module: p.ldm + underscoreToDotted(name), component: p.component } : undefined
}

/** What one adapter module name resolved to. */
export type ResolvedModule =
  | { readonly kind: 'layer'; readonly a1111Key: string; readonly module: string; readonly component: Component }
  | { readonly kind: 'mha'; readonly a1111Key: string; readonly module: string; readonly component: Component; readonly proj: MhaProj }

export type MhaProj = 'q' | 'k' | 'v' | 'out'

/** The subset of BaseWeights key lookup needs. */
export interface KeyLookup { has(key: string): boolean }

function lookup(name: string, arch: Arch, base: KeyLookup): ResolvedModule | undefined {
  const hit = a1111NameToLdmModule(name, arch)
  if (!hit) return undefined
  if (base.has(`${hit.module}.in_proj_weight`)) return undefined // MultiheadAttention: only reached through q/k/v
  if (!base.has(`${hit.module}.weight`)) return undefined
  const mha = /^(.*\.attn)\.out_proj$/.exec(hit.module)
  if (mha && base.has(`${mha[1]}.in_proj_weight`)) return { kind: 'mha', a1111Key: name, module: mha[1], component: hit.component, proj: 'out' }
  return { kind: 'layer', a1111Key: name, module: hit.module, component: hit.component }
}

function lookupQkv(name: string, arch: Arch, base: KeyLookup): ResolvedModule | undefined {
  const m = /^(.*)_([qkv])_proj$/.exec(name)
  if (!m) return undefined
  const hit = a1111NameToLdmModule(m[1], arch)
  if (!hit || !base.has(`${hit.module}.in_proj_weight`)) return undefined
  return { kind: 'mha', a1111Key: name, module: hit.module, component: hit.component, proj: m[2] as MhaProj }
}

/** Resolves a kohya-style module name against the base (A1111 `load_network` matching order). */
export function resolveModuleName(name: string, arch: Arch, base: KeyLookup): ResolvedModule | undefined {
  const key = convertDiffusersNameToCompvis(name, arch === 'sd2')
  const direct = lookup(key, arch, base) ?? lookupQkv(key, arch, base)
  if (direct) return direct
  if (name.includes('lora_unet')) return lookup(name.replace('lora_unet', 'diffusion_model'), arch, base)
  if (name.includes('lora_te1_text_model')) {
    return lookup(name.replace('lora_te1_text_model', '0_transformer_text_model'), arch, base)
      ?? lookup(name.replace('lora_te1_text_model', 'transformer_text_model'), arch, base)
  }
  if (name.includes('oft_unet')) return lookup(name.replace('oft_unet', 'diffusion_model'), arch, base)
  if (name.includes('lycoris_')) return lookup(name.replace('lycoris_', ''), arch, base)
  return undefined
}

/**
 * diffusers / PEFT module paths → kohya names (`unet.down_blocks.0.…` → `lora_unet_down_blocks_0_…`,
 * `text_encoder.` → `lora_te_`, or `lora_te1_` when the file also has `text_encoder_2.` (SDXL), `text_encoder_2.` →
 * `lora_te2_`). Kohya names pass unchanged.
 */
export function kohyaModuleName(path: string, fileHasTe2: boolean): string {
  const roots: readonly (readonly [string, string])[] = [
    ['unet.', 'lora_unet_'], ['text_encoder_2.', 'lora_te2_'], ['text_encoder.', fileHasTe2 ? 'lora_te1_' : 'lora_te_'],
  ]
  for (const [from, to] of roots) {
    if (path.startsWith(from)) return to + path.slice(from.length).replaceAll('.', '_')
  }
  return path.replaceAll('.', '_')
}
