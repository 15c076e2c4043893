/**
 * Architectures sdloom recognises by key names but does not run. Probe keys follow ComfyUI's model_detection.py
 * (each a tensor only that family has); a probe matches a key equal to it or ending in ".<probe>", so any
 * wrapper prefix (`model.diffusion_model.`, `transformer.`, …) is accepted.
 */
import type { KeyIndex } from './key-index.ts'

export interface ForeignArchitecture {
  readonly id: string
  readonly label: string
  readonly kind: 'diffusion-model' | 'text-encoder'
  readonly probes: readonly string[]
}

export const FOREIGN_ARCHITECTURES = [
  { id: 'sd3', label: 'Stable Diffusion 3 (MMDiT)', kind: 'diffusion-model',
    probes: ['joint_blocks.0.context_block.attn.qkv.weight', 'joint_blocks.0.x_block.attn.qkv.weight'] },
  { id: 'flux', label: 'Flux', kind: 'diffusion-model',
    probes: ['double_blocks.0.img_attn.qkv.weight', 'single_transformer_blocks.0.attn.to_q.weight'] },
  { id: 'stable-cascade', label: 'Stable Cascade', kind: 'diffusion-model',
    probes: ['clip_txt_mapper.weight', 'effnet_mapper.0.weight'] },
  { id: 'pixart', label: 'PixArt', kind: 'diffusion-model',
    probes: ['t_block.1.weight', 'y_embedder.y_proj.fc1.weight'] },
  { id: 'auraflow', label: 'AuraFlow', kind: 'diffusion-model',
    probes: ['cond_seq_linear.weight', 'double_layers.0.attn.w1q.weight'] },
  { id: 'hunyuan-dit', label: 'Hunyuan-DiT', kind: 'diffusion-model', probes: ['mlp_t5.0.weight'] },
  { id: 'hunyuan-video', label: 'HunyuanVideo', kind: 'diffusion-model',
    probes: ['txt_in.individual_token_refiner.blocks.0.norm1.weight'] },
  { id: 'lumina2', label: 'Lumina 2', kind: 'diffusion-model', probes: ['cap_embedder.1.weight'] },
  { id: 'hidream', label: 'HiDream', kind: 'diffusion-model', probes: ['caption_projection.0.linear.weight'] },
  { id: 'wan', label: 'Wan video', kind: 'diffusion-model', probes: ['head.modulation'] },
  { id: 'svd', label: 'Stable Video Diffusion', kind: 'diffusion-model',
    probes: ['input_blocks.1.0.time_stack.in_layers.0.weight'] },
  { id: 'kolors', label: 'Kolors', kind: 'diffusion-model', probes: ['encoder_hid_proj.weight'] },
  { id: 't5', label: 'T5 text encoder', kind: 'text-encoder', probes: ['encoder.block.0.layer.0.SelfAttention.q.weight'] },
] as const satisfies readonly ForeignArchitecture[]

export type ForeignArchitectureId = (typeof FOREIGN_ARCHITECTURES)[number]['id']

export interface ForeignMatch {
  readonly architecture: (typeof FOREIGN_ARCHITECTURES)[number]
  /** The key that matched a probe. */
  readonly key: string
}

export function findForeignArchitecture(ix: KeyIndex): ForeignMatch | undefined {
  for (const a of FOREIGN_ARCHITECTURES) {
    for (const p of a.probes) {
      const key = ix.findSuffix(p)
      if (key !== undefined) return { architecture: a, key }
    }
  }
  return undefined
}
