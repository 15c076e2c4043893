/**
 * LoRA-family adapters: algorithm per module, key scheme, ranks, components touched, bundled embeddings,
 * and the base model they were trained for (lora-base.ts). Shapes and names only; alphas are scalars the
 * caller may read afterwards (readLoraAlphas), the one piece of tensor data inspection looks at.
 */
import type { KeyIndex } from './key-index.ts'
import { groupLoraModules, moduleAlgorithm, type LoraAlgorithm, type LoraScheme, type ModuleParts } from './lora-keys.ts'

export type LoraComponent = 'unet' | 'te1' | 'te2' | 'transformer'

export interface LoraModule {
  readonly name: string
  readonly algorithm: LoraAlgorithm
  readonly component: LoraComponent | undefined
  readonly rank: number | undefined
  /** In-features of the adapted layer (flattened for convs), when the parts show it. */
  readonly inDim: number | undefined
  readonly dora: boolean
  readonly parts: ModuleParts
}

export interface BundledEmbedding {
  readonly name: string
  readonly keys: readonly string[]
}

export interface LoraStructure {
  readonly modules: readonly LoraModule[]
  readonly schemes: readonly LoraScheme[]
  readonly unrecognizedKeys: readonly string[]
  readonly bundledEmbeddings: readonly BundledEmbedding[]
}

/** Component by module-name prefix: kohya (`lora_unet_`, `lora_te1_`), diffusers/PEFT (`unet.`, `text_encoder_2.`). */
const COMPONENT_PREFIXES: readonly { readonly prefix: string; readonly component: LoraComponent; readonly scheme?: LoraScheme }[] = [
  { prefix: 'lora_unet_', component: 'unet', scheme: 'kohya' },
  { prefix: 'lora_te1_', component: 'te1', scheme: 'kohya' },
  { prefix: 'lora_te2_', component: 'te2', scheme: 'kohya' },
  { prefix: 'lora_te_', component: 'te1', scheme: 'kohya' },
  { prefix: 'lora_transformer_', component: 'transformer', scheme: 'kohya' },
  { prefix: 'unet.', component: 'unet' },
  { prefix: 'text_encoder_2.', component: 'te2' },
  { prefix: 'text_encoder.', component: 'te1' },
  { prefix: 'transformer.', component: 'transformer' },
  { prefix: 'diffusion_model.', component: 'unet' },
  { prefix: 'base_model.model.', component: 'unet' },
]

const componentOf = (module: string) => COMPONENT_PREFIXES.find((c) => module.startsWith(c.prefix))

function rankAndIn(ix: KeyIndex, p: ModuleParts, algorithm: LoraAlgorithm): { rank?: number; inDim?: number } {
  const s = (k: string | undefined) => (k === undefined ? undefined : ix.shape(k))
  const flatIn = (shape: readonly number[] | undefined) => shape && shape.slice(1).reduce((a, b) => a * b, 1)
  switch (algorithm) {
    case 'lora': case 'locon': return { rank: s(p.down)?.[0], inDim: flatIn(s(p.down)) }
    case 'loha': return { rank: s(p.hada_w1_b)?.[0], inDim: s(p.hada_w1_b)?.[1] }
    case 'lokr': {
      const w1In = s(p.lokr_w1)?.[1] ?? s(p.lokr_w1_b)?.[1]
      const w2In = p.lokr_w2 ? flatIn(s(p.lokr_w2)) : flatIn(s(p.lokr_w2_b))
      const rank = s(p.lokr_w2_b)?.[0] ?? s(p.lokr_w1_b)?.[0]
      return { rank, inDim: w1In !== undefined && w2In !== undefined ? w1In * w2In : undefined }
    }
    case 'glora': return { rank: s(p.a1)?.[0], inDim: s(p.a1)?.[1] }
    default: return {}
  }
}

function bundledEmbeddings(keys: readonly string[]): BundledEmbedding[] {
  const byName = new Map<string, string[]>()
  for (const k of keys) {
    if (!k.startsWith('bundle_emb.')) continue
    const name = k.slice('bundle_emb.'.length).split('.')[0]
    byName.set(name, [...(byName.get(name) ?? []), k])
  }
  return [...byName].map(([name, ks]) => ({ name, keys: ks }))
}

/** Reads the LoRA structure; undefined when no key looks like an adapter part. */
export function detectLoraStructure(ix: KeyIndex): LoraStructure | undefined {
  const { modules, schemes, unrecognized } = groupLoraModules(ix.keys)
  const out: LoraModule[] = []
  const orphans: string[] = []
  for (const [name, parts] of modules) {
    const primary = parts.down ?? parts.oft_blocks
    const algorithm = moduleAlgorithm(parts, primary === undefined ? undefined : ix.shape(primary))
    if (!algorithm) { orphans.push(...Object.values(parts).filter((k): k is string => k !== undefined)); continue }
    const c = componentOf(name)
    if (c?.scheme) schemes.add(c.scheme)
    const { rank, inDim } = rankAndIn(ix, parts, algorithm)
    out.push({ name, algorithm, component: c?.component, rank, inDim, dora: parts.dora !== undefined, parts })
  }
  if (out.length === 0) return undefined
  if (schemes.size === 0) schemes.add('kohya')
  return { modules: out, schemes: [...schemes], unrecognizedKeys: [...unrecognized, ...orphans], bundledEmbeddings: bundledEmbeddings(ix.keys) }
}

/** Counts of a value over modules, most frequent first: [{ value, count }]. */
export function histogram<T>(values: readonly T[]): { value: T; count: number }[] {
  const m = new Map<T, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return [...m].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count)
}

/**
 * Alpha of every module that stores one (0-dim tensors: the only tensor data inspection reads), as a histogram.
 * Modules without `.alpha` use alpha = rank (scale 1) in kohya and A1111; they are not counted here.
 */
export async function readLoraAlphas(source: { readF32(key: string): Promise<Float32Array> }, structure: LoraStructure): Promise<{ value: number; count: number }[]> {
  const values: number[] = []
  for (const m of structure.modules) {
    if (m.parts.alpha === undefined) continue
    const a = await source.readF32(m.parts.alpha)
    values.push(a[0])
  }
  return histogram(values)
}
