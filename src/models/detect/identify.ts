/**
 * identifyModel: what a tensor file is, from names, shapes, dtypes and metadata only.
 * Order matters: embeddings and LoRAs first (they are small and distinctive), then architectures sdloom does not
 * run (so a Flux file is never mistaken for a damaged SD one), then SD checkpoints and their parts.
 */
import { basename } from 'node:path'
import { KeyIndex, type TensorIndex } from './key-index.ts'
import { detectComponents, type ComponentKind, type ComponentsReport } from './checkpoint.ts'
import { findTextEncoders, findVae } from './components.ts'
import { detectEmbedding, type EmbeddingReport } from './embedding.ts'
import { detectLoraStructure, histogram, type LoraComponent, type LoraStructure } from './lora.ts'
import { detectLoraBase, type LoraBase, type LoraBaseId } from './lora-base.ts'
import type { LoraAlgorithm, LoraScheme } from './lora-keys.ts'
import { readMetadata, type MetadataReport } from './metadata.ts'
import { detectFewStep, type FewStepHint } from './few-step.ts'
import { summarizeTensors, type TensorSummary } from './summary.ts'
import { findForeignArchitecture, type ForeignMatch } from './unsupported.ts'

export type ModelKind = ComponentKind | 'lora' | 'embedding' | 'unknown'

export interface Architecture {
  readonly id: string
  readonly label: string
  readonly supported: boolean
  /** Why (what decided it, or why it is not supported). */
  readonly note: string
}

export interface LoraReport {
  readonly base: LoraBase
  readonly algorithms: readonly { value: LoraAlgorithm; count: number }[]
  readonly schemes: readonly LoraScheme[]
  readonly moduleCount: number
  readonly components: readonly { value: LoraComponent | 'other'; count: number }[]
  readonly ranks: readonly { value: number; count: number }[]
  /** Filled by readLoraAlphas (scalar reads); empty until then. */
  readonly alphas: readonly { value: number; count: number }[]
  readonly dora: boolean
  readonly bundledEmbeddings: readonly string[]
  readonly unrecognizedKeys: readonly string[]
}

export type ModelIdentity =
  | { readonly kind: ComponentKind; readonly components: ComponentsReport | undefined; readonly foreign: ForeignMatch | undefined }
  | { readonly kind: 'lora'; readonly lora: LoraReport; readonly structure: LoraStructure }
  | { readonly kind: 'embedding'; readonly embedding: EmbeddingReport }
  | { readonly kind: 'unknown'; readonly reason: string }

export type Identification = ModelIdentity & {
  readonly architecture: Architecture
  readonly summary: TensorSummary
  readonly metadata: MetadataReport
  /** LCM / Turbo / Lightning / Hyper-SD, recognised by name and metadata, with the settings to use. */
  readonly fewStep: FewStepHint | undefined
}

const BASE_LABELS: Record<LoraBaseId, string> = {
  'sd1': 'SD1.x', 'sd2': 'SD2.x', 'sdxl-base': 'SDXL base', 'sdxl-refiner': 'SDXL refiner', 'sd3': 'SD3', 'flux': 'Flux', 'unknown': 'unknown base',
}
const SUPPORTED_BASES: ReadonlySet<LoraBaseId> = new Set(['sd1', 'sd2', 'sdxl-base', 'sdxl-refiner'])

function loraIdentity(ix: KeyIndex, structure: LoraStructure): ModelIdentity & { architecture: Architecture } {
  const base = detectLoraBase(structure, ix.source.metadata, (k) => ix.shape(k))
  const m = structure.modules
  const lora: LoraReport = {
    base,
    algorithms: histogram(m.map((x) => x.algorithm)),
    schemes: structure.schemes,
    moduleCount: m.length,
    components: histogram(m.map((x) => x.component ?? 'other')),
    ranks: histogram(m.map((x) => x.rank).filter((r): r is number => r !== undefined)),
    alphas: [],
    dora: m.some((x) => x.dora),
    bundledEmbeddings: structure.bundledEmbeddings.map((b) => b.name),
    unrecognizedKeys: structure.unrecognizedKeys,
  }
  const id = base.candidates.join('|')
  const label = base.candidates.map((c) => BASE_LABELS[c]).join(' or ')
  const supported = base.candidates.every((c) => SUPPORTED_BASES.has(c))
  return { kind: 'lora', lora, structure, architecture: { id, label, supported, note: base.evidence } }
}

function foreignIdentity(ix: KeyIndex, f: ForeignMatch): ModelIdentity & { architecture: Architecture } {
  const a = f.architecture
  const others = findVae(ix) !== undefined || findTextEncoders(ix).length > 0 || ix.hasPrefix('text_encoders.')
  const kind: ComponentKind = a.kind === 'text-encoder' ? 'text-encoder' : others ? 'checkpoint' : 'unet-only'
  return { kind, components: undefined, foreign: f,
    architecture: { id: a.id, label: a.label, supported: false, note: `recognised by tensor "${f.key}"; ${a.label} is not supported` } }
}

function componentsIdentity(c: ComponentsReport): ModelIdentity & { architecture: Architecture } {
  const arch: Architecture = c.family
    ? { id: c.family.family, label: c.family.label, supported: c.family.supported && c.kind !== 'controlnet', note: [c.family.note, ...c.notes].join('; ') }
    : c.vae && c.vae.latentChannels.value === 4
      ? { id: 'sd-vae', label: 'SD-family VAE (4-channel latent)', supported: true, note: 'the same VAE design serves SD1.x, SD2.x and SDXL' }
      : { id: 'unknown', label: 'unknown', supported: false, note: c.notes.join('; ') || 'no UNet to identify the family' }
  return { kind: c.kind, components: c, foreign: undefined, architecture: arch }
}

const EMBEDDING_LABELS = { sd1: 'SD1.x', sd2: 'SD2.x', sdxl: 'SDXL' } as const

function embeddingIdentity(e: EmbeddingReport): ModelIdentity & { architecture: Architecture } {
  const label = e.compatible.map((c) => EMBEDDING_LABELS[c]).join(' or ') || 'embedding of non-standard width'
  return { kind: 'embedding', embedding: e, architecture: { id: e.compatible.join('|') || 'unknown', label, supported: true, note: e.compatibility } }
}

function identityOf(ix: KeyIndex): ModelIdentity & { architecture: Architecture } {
  const emb = detectEmbedding(ix)
  if (emb) return embeddingIdentity(emb)
  const lora = detectLoraStructure(ix)
  if (lora && lora.unrecognizedKeys.length * 2 < ix.keys.length) return loraIdentity(ix, lora)
  const foreign = findForeignArchitecture(ix)
  if (foreign) return foreignIdentity(ix, foreign)
  const comp = detectComponents(ix)
  if (comp) return componentsIdentity(comp)
  const first = ix.keys.slice(0, 3).map((k) => `"${k}"`).join(', ')
  const reason = ix.keys.length === 0 ? 'the file holds no tensors'
    : `no UNet, VAE, text-encoder, LoRA or embedding keys found (${ix.keys.length} tensors, first: ${first})`
  return { kind: 'unknown', reason, architecture: { id: 'unknown', label: 'unknown', supported: false, note: `${basename(ix.source.file)}: ${reason}` } }
}

export function identifyModel(source: TensorIndex): Identification {
  const ix = new KeyIndex(source)
  return { ...identityOf(ix), summary: summarizeTensors(ix), metadata: readMetadata(source.metadata),
    fewStep: detectFewStep(source.file, source.metadata) }
}
