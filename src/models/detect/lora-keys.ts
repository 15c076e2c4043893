/**
 * LoRA-family key grammar: each tensor key is `<module><suffix>`; the suffix names the algorithm and the part.
 * Suffixes: kohya/LyCORIS (`.lora_down.weight`, `.hada_w1_a`, `.lokr_w1`, `.oft_blocks`, `.diff`, …, see
 * KohakuBlueleaf/LyCORIS lycoris/modules/*.py), diffusers (`.lora.down.weight`, old attention processors'
 * `to_q_lora.down.weight`, `.lora_linear_layer.down.weight`) and PEFT (`.lora_A.weight`, `.lora_B.weight`).
 * Longer suffixes come first so `.lora.down.weight` is not read as `.down.weight`.
 */

export type LoraAlgorithm = 'lora' | 'locon' | 'loha' | 'lokr' | 'ia3' | 'glora' | 'oft' | 'boft' | 'full' | 'norm'
export type LoraScheme = 'kohya' | 'diffusers' | 'peft'

export type LoraPart =
  | 'down' | 'up' | 'mid' | 'alpha' | 'dora'
  | 'hada_w1_a' | 'hada_w1_b' | 'hada_w2_a' | 'hada_w2_b' | 'hada_t1' | 'hada_t2'
  | 'lokr_w1' | 'lokr_w1_a' | 'lokr_w1_b' | 'lokr_w2' | 'lokr_w2_a' | 'lokr_w2_b' | 'lokr_t2'
  | 'on_input' | 'a1' | 'a2' | 'b1' | 'b2' | 'oft_blocks' | 'oft_diag' | 'diff' | 'diff_b' | 'w_norm' | 'b_norm'

interface SuffixRule {
  readonly suffix: string
  readonly part: LoraPart
  /** Set where the suffix alone fixes the key scheme. */
  readonly scheme?: LoraScheme
}

const lyco = (parts: readonly LoraPart[]): SuffixRule[] => parts.map((p) => ({ suffix: `.${p}`, part: p }))

export const LORA_SUFFIXES: readonly SuffixRule[] = [
  { suffix: '.lora_linear_layer.down.weight', part: 'down', scheme: 'diffusers' },
  { suffix: '.lora_linear_layer.up.weight', part: 'up', scheme: 'diffusers' },
  { suffix: '.lora.down.weight', part: 'down', scheme: 'diffusers' },
  { suffix: '.lora.up.weight', part: 'up', scheme: 'diffusers' },
  { suffix: '_lora.down.weight', part: 'down', scheme: 'diffusers' },
  { suffix: '_lora.up.weight', part: 'up', scheme: 'diffusers' },
  { suffix: '.lora_A.weight', part: 'down', scheme: 'peft' },
  { suffix: '.lora_B.weight', part: 'up', scheme: 'peft' },
  { suffix: '.lora_magnitude_vector', part: 'dora', scheme: 'peft' },
  { suffix: '.lora_down.weight', part: 'down' },
  { suffix: '.lora_up.weight', part: 'up' },
  { suffix: '.lora_mid.weight', part: 'mid' },
  { suffix: '.alpha', part: 'alpha' },
  { suffix: '.dora_scale', part: 'dora' },
  { suffix: '.a1.weight', part: 'a1' }, { suffix: '.a2.weight', part: 'a2' },
  { suffix: '.b1.weight', part: 'b1' }, { suffix: '.b2.weight', part: 'b2' },
  ...lyco(['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b', 'hada_t1', 'hada_t2']),
  ...lyco(['lokr_w1_a', 'lokr_w1_b', 'lokr_w1', 'lokr_w2_a', 'lokr_w2_b', 'lokr_w2', 'lokr_t2']),
  ...lyco(['on_input', 'oft_blocks', 'oft_diag', 'diff_b', 'diff', 'w_norm', 'b_norm']),
]

export interface ParsedKey {
  readonly module: string
  readonly part: LoraPart
  readonly scheme: LoraScheme | undefined
}

export function parseLoraKey(key: string): ParsedKey | undefined {
  for (const r of LORA_SUFFIXES) {
    if (key.endsWith(r.suffix) && key.length > r.suffix.length) {
      return { module: key.slice(0, -r.suffix.length), part: r.part, scheme: r.scheme }
    }
  }
  return undefined
}

/** Parts of one module (key of each part). IA3's `<module>.weight` is attached when `<module>.on_input` exists. */
export type ModuleParts = Partial<Record<LoraPart | 'weight', string>>

/** Groups keys into modules; keys that fit no rule are returned apart (bundled embeddings aside). */
export function groupLoraModules(keys: readonly string[]): { modules: Map<string, ModuleParts>; schemes: Set<LoraScheme>; unrecognized: string[] } {
  const modules = new Map<string, ModuleParts>()
  const schemes = new Set<LoraScheme>()
  const rest: string[] = []
  for (const k of keys) {
    if (k.startsWith('bundle_emb.')) continue
    const p = parseLoraKey(k)
    if (!p) { rest.push(k); continue }
    if (p.scheme) schemes.add(p.scheme)
    const m = modules.get(p.module) ?? {}
    m[p.part] = k
    modules.set(p.module, m)
  }
  const unrecognized: string[] = []
  for (const k of rest) {
    const m = k.endsWith('.weight') ? modules.get(k.slice(0, -'.weight'.length)) : undefined
    if (m?.on_input !== undefined) m.weight = k
    else unrecognized.push(k)
  }
  return { modules, schemes, unrecognized }
}

/** The algorithm of one module from its parts, or undefined when the parts make no known module. */
export function moduleAlgorithm(parts: ModuleParts, downShape: readonly number[] | undefined): LoraAlgorithm | undefined {
  if (parts.hada_w1_a || parts.hada_w1_b) return 'loha'
  if (parts.lokr_w1 || parts.lokr_w1_a || parts.lokr_w2 || parts.lokr_w2_a) return 'lokr'
  if (parts.on_input && parts.weight) return 'ia3'
  if (parts.a1 && parts.b1) return 'glora'
  if (parts.oft_blocks) return parts.oft_diag === undefined && downShape?.length === 4 ? 'boft' : 'oft'
  if (parts.oft_diag) return 'oft'
  if (parts.diff) return 'full'
  if (parts.w_norm) return 'norm'
  if (parts.down && parts.up) return downShape !== undefined && downShape.length === 4 && downShape[2] * downShape[3] > 1 ? 'locon' : 'lora'
  return undefined
}
