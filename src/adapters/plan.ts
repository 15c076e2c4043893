/**
 * Matches an adapter's modules to the base model's weights (A1111 `load_network` + `network_apply_weights` rules)
 * and checks that the adapter was made for this architecture. Pure planning: no deltas are computed here.
 */
import { ModelMismatchError } from '../core/errors.ts'
import { doraOrientation, type DoraOrientation } from './dora.ts'
import { algorithmFor } from './index.ts'
import { resolveModuleName, type MhaProj, type ResolvedModule } from './kohya-keys.ts'
import type { Adapter, AdapterAlgorithm, AdapterModule, Arch, BaseWeights, WeightTarget } from './types.ts'
import { layerKind } from './types.ts'

export const ARCH_NAMES: Readonly<Record<Arch, string>> = { sd1: 'SD1.x', sd2: 'SD2.x', sdxl: 'SDXL' }

export interface PlannedModule {
  readonly module: AdapterModule
  readonly algorithm: AdapterAlgorithm
  readonly target: WeightTarget
  readonly dora?: DoraOrientation
  /**
   * Set for an SD inpainting UNet's 9-channel input conv patched by a 4-channel adapter: the module sees the first
   * 4 input channels and the delta is zero-padded to 9 (A1111 `network_apply_weights`).
   */
  readonly inpaint?: true
}

export interface SkippedModule { readonly module: string; readonly reason: string }

export interface AdapterPlan {
  readonly adapter: Adapter
  readonly modules: readonly PlannedModule[]
  /** Adapter tensor keys that match no layer of the base (the caller warns, or throws under strict). */
  readonly unmatchedKeys: readonly string[]
  /** Modules that matched a layer but are not applied, with why. */
  readonly skipped: readonly SkippedModule[]
}

interface Matched { readonly module: AdapterModule; readonly resolved: ResolvedModule }

/** Plans one adapter; throws ModelMismatchError when it was made for another architecture. */
export function planAdapter(adapter: Adapter, arch: Arch, base: BaseWeights): AdapterPlan {
  checkPrefixes(adapter, arch)
  const unmatchedKeys: string[] = [...adapter.unparsedKeys]
  const matched: Matched[] = []
  for (const module of adapter.modules) {
    const resolved = resolveModuleName(module.name, arch, base)
    if (resolved) matched.push({ module, resolved })
    else unmatchedKeys.push(...module.keys)
  }
  const skipped: SkippedModule[] = []
  const targets = [
    ...matched.filter((m) => m.resolved.kind === 'layer').map((m) => ({ module: m.module, target: layerTarget(m.resolved, base) })),
    ...mhaTargets(matched.filter((m) => m.resolved.kind === 'mha'), base, skipped),
  ]
  const modules: PlannedModule[] = []
  for (const { module, target } of targets) {
    const planned = planModule(adapter, arch, module, target, skipped)
    if (planned) modules.push(planned)
  }
  return { adapter, modules, unmatchedKeys, skipped }
}

function layerTarget(r: ResolvedModule, base: BaseWeights): WeightTarget {
  const key = `${r.module}.weight`
  const biasKey = base.has(`${r.module}.bias`) ? `${r.module}.bias` : undefined
  return { key, component: r.component, shape: base.shape(key), ...(biasKey ? { biasKey } : {}) }
}

const MHA_ORDER: readonly MhaProj[] = ['q', 'k', 'v', 'out']

/**
 * open_clip attention (SD2 TE, SDXL bigG): A1111 patches `in_proj_weight` rows (q, k, v) and `out_proj.weight` only
 * when all four modules are present, as one update; anything less is not applied (README "Traps").
 */
function mhaTargets(list: readonly Matched[], base: BaseWeights, skipped: SkippedModule[]): { module: AdapterModule; target: WeightTarget }[] {
  const groups = new Map<string, Map<MhaProj, Matched>>()
  for (const m of list) {
    if (m.resolved.kind !== 'mha') continue
    let g = groups.get(m.resolved.module)
    if (!g) { g = new Map(); groups.set(m.resolved.module, g) }
    g.set(m.resolved.proj, m)
  }
  const out: { module: AdapterModule; target: WeightTarget }[] = []
  for (const [attn, g] of groups) {
    if (g.size < 4) {
      const have = MHA_ORDER.filter((p) => g.has(p))
      const reason = `open_clip attention ${attn} is patched only when q_proj, k_proj, v_proj and out_proj are all present (A1111); this adapter has only ${have.map((p) => `${p}_proj`).join(', ')}`
      for (const m of g.values()) skipped.push({ module: m.module.name, reason })
      continue
    }
    const inShape = base.shape(`${attn}.in_proj_weight`)
    const c = inShape[0] / 3
    for (const proj of MHA_ORDER) {
      const m = g.get(proj)!
      const target: WeightTarget = proj === 'out'
        ? { key: `${attn}.out_proj.weight`, component: m.resolved.component, shape: base.shape(`${attn}.out_proj.weight`) }
        : { key: `${attn}.in_proj_weight`, component: m.resolved.component, shape: inShape, rows: { start: MHA_ORDER.indexOf(proj) * c, end: (MHA_ORDER.indexOf(proj) + 1) * c } }
      out.push({ module: m.module, target })
    }
  }
  return out
}

/** The shape an algorithm sees: the row slice for q/k/v, else the whole weight. */
export const layerShape = (t: WeightTarget): readonly number[] =>
  t.rows ? [t.rows.end - t.rows.start, ...t.shape.slice(1)] : t.shape

function planModule(adapter: Adapter, arch: Arch, module: AdapterModule, target: WeightTarget, skipped: SkippedModule[]): PlannedModule | undefined {
  const algorithm = algorithmFor(module.parts)
  if (!algorithm) {
    skipped.push({ module: module.name, reason: `no algorithm handles the parts ${[...module.parts.keys()].join(', ')}` })
    return undefined
  }
  const shape = layerShape(target)
  if (!algorithm.layers.includes(layerKind(shape))) {
    skipped.push({ module: module.name, reason: `${algorithm.name} cannot patch a ${layerKind(shape)} layer (${target.key})` })
    return undefined
  }
  const problem = algorithm.check(module, shape)
  const inpaint = problem !== undefined && shape.length === 4 && shape[1] === 9
    && algorithm.check(module, [shape[0], 4, shape[2], shape[3]]) === undefined
  if (problem && !inpaint) throw mismatch(adapter, arch, `module ${module.name} → ${target.key}: ${problem}`)
  const extra = inpaint ? { inpaint: true as const } : {}
  if (!target.biasKey && (module.parts.has('diff_b') || module.parts.has('b_norm'))) {
    skipped.push({ module: module.name, reason: `its bias delta is not applied: ${target.key} has no bias in the base model` })
  }
  const doraScale = module.parts.get('dora_scale')
  if (!doraScale) return { module, algorithm, target, ...extra }
  const dora = doraOrientation(doraScale.shape, inpaint ? [shape[0], 4, shape[2], shape[3]] : shape)
  if (typeof dora === 'string') throw mismatch(adapter, arch, `module ${module.name} → ${target.key}: ${dora}`)
  return { module, algorithm, target, dora, ...extra }
}

const countPrefix = (adapter: Adapter, prefix: string): number => adapter.modules.filter((m) => m.name.startsWith(prefix)).length

/** Text-encoder key prefixes tell SDXL LoRAs (`lora_te1_`/`lora_te2_`) from SD1/SD2 ones (`lora_te_`). */
function checkPrefixes(adapter: Adapter, arch: Arch): void {
  const te2 = countPrefix(adapter, 'lora_te2_')
  if (arch !== 'sdxl' && te2 > 0) {
    throw mismatch(adapter, arch, `it has ${te2} modules with the prefix lora_te2_ (SDXL's second text encoder, OpenCLIP bigG)`, 'sdxl')
  }
  const te = countPrefix(adapter, 'lora_te_')
  if (arch === 'sdxl' && te > 0) {
    throw mismatch(adapter, arch, `it has ${te} text-encoder modules with the SD1.x/SD2.x prefix lora_te_ (SDXL LoRAs use lora_te1_ and lora_te2_)`, 'sd1')
  }
}

/** The adapter's own architecture, from its cross-attention context width (real models) or kohya metadata. */
export function guessAdapterArch(adapter: Adapter): Arch | undefined {
  const ctx: Readonly<Record<number, Arch>> = { 768: 'sd1', 1024: 'sd2', 2048: 'sdxl' }
  for (const m of adapter.modules) {
    if (!/attn2_to_[kv]$/.test(m.name)) continue
    const down = m.parts.get('lora_down.weight')
    const arch = down ? ctx[down.shape[1]] : undefined
    if (arch) return arch
  }
  const version = adapter.metadata.ss_base_model_version ?? ''
  if (version.startsWith('sdxl')) return 'sdxl'
  if (adapter.metadata.ss_v2 === 'True' || version.startsWith('sd_v2')) return 'sd2'
  if (adapter.metadata.ss_v2 === 'False' || version.startsWith('sd_v1')) return 'sd1'
  return undefined
}

export function mismatch(adapter: Adapter, arch: Arch, evidence: string, made?: Arch): ModelMismatchError {
  const other = made ?? guessAdapterArch(adapter)
  if (other && other !== arch) {
    return new ModelMismatchError(adapter.file, `adapter "${adapter.name}" is for ${ARCH_NAMES[other]} but the base model is ${ARCH_NAMES[arch]}: ${evidence}. `
      + `Hint: load an ${ARCH_NAMES[other]} checkpoint, or use an adapter made for ${ARCH_NAMES[arch]}.`)
  }
  return new ModelMismatchError(adapter.file, `adapter "${adapter.name}" does not fit this ${ARCH_NAMES[arch]} model: ${evidence}. `
    + `Hint: it was probably made for another architecture (SD1.x, SD2.x or SDXL) or another model variant.`)
}
