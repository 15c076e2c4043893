/*
 * Few-step models and LoRAs (LCM, SD-Turbo / SDXL-Turbo, SDXL-Lightning, Hyper-SD): the weights look like any SD
 * checkpoint or LoRA, so they are recognised by what their publishers name them and write in their metadata (file
 * name, modelspec.title, kohya ss_output_name / ss_sd_model_name), with the settings their model cards prescribe.
 * Model cards: latent-consistency/lcm-lora-sdv1-5 and lcm-lora-sdxl, stabilityai/sd-turbo and sdxl-turbo,
 * ByteDance/SDXL-Lightning, ByteDance/Hyper-SD (Hugging Face).
 */
import { basename } from 'node:path'

export type FewStepId = 'lcm' | 'turbo' | 'lightning' | 'hyper-sd'

export interface FewStepSettings {
  readonly steps: string
  readonly cfg: string
  readonly sampler: string
  readonly note?: string
}

export interface FewStepHint {
  readonly id: FewStepId
  readonly label: string
  /** Where it was recognised: `file name "…"` or `metadata ss_output_name "…"`. */
  readonly evidence: string
  /** Steps the file was distilled for, when its name says (`4step`). */
  readonly distilledSteps: number | undefined
  readonly settings: FewStepSettings
}

interface FewStepKind {
  readonly id: FewStepId
  readonly label: string
  readonly pattern: RegExp
  readonly settings: (steps: number | undefined, name: string) => FewStepSettings
}

const stepsOr = (n: number | undefined, fallback: string): string => (n !== undefined ? String(n) : fallback)

/** Checked in order: the more specific names first ("Hyper-SD" before a stray "lcm", "lightning" before "turbo"). */
const KINDS: readonly FewStepKind[] = [
  { id: 'hyper-sd', label: 'Hyper-SD', pattern: /hyper[-_ ]?sd/i,
    settings: (n, name) => ({ steps: stepsOr(n, 'as in the file name (1, 2, 4, 8 or 12)'),
      cfg: /cfg/i.test(name) ? '5–8 (a CFG-preserving variant)' : '1 (no negative prompt)',
      sampler: n === 1 ? 'TCD (eta 1.0) or LCM' : 'DDIM or TCD, trailing timesteps (A1111: Euler a / DDIM with SGM Uniform)',
      note: 'LoRA weight as the model card gives (1.0 for most files)' }) },
  { id: 'lightning', label: 'SDXL-Lightning', pattern: /lightning/i,
    settings: (n) => ({ steps: stepsOr(n, 'as in the file name (1, 2, 4 or 8)'), cfg: '1 (no negative prompt)',
      sampler: 'Euler, trailing timesteps (A1111: Euler with SGM Uniform)', note: 'use the step count the file was distilled for' }) },
  { id: 'turbo', label: 'SD-Turbo / SDXL-Turbo', pattern: /turbo/i,
    settings: () => ({ steps: '1–4', cfg: '1 (guidance off: no negative prompt)', sampler: 'Euler a',
      note: 'trained at 512×512 (SDXL-Turbo too); larger sizes degrade' }) },
  { id: 'lcm', label: 'LCM (latent consistency)', pattern: /(^|[^a-z])lcm([^a-z]|$)|latent[-_ ]?consistency/i,
    settings: () => ({ steps: '4 (2–8)', cfg: '1–2 (1: no negative prompt)', sampler: 'LCM',
      note: 'an LCM-LoRA goes at weight 1.0 on its base family (SD1.5 or SDXL)' }) },
]

/** Metadata fields whose value names the model (in this order of trust). */
const NAME_FIELDS = ['modelspec.title', 'ss_output_name', 'ss_sd_model_name', 'modelspec.description'] as const

/** The few-step family a model file belongs to, from its name and metadata; undefined for ordinary models. */
export function detectFewStep(file: string, metadata: Readonly<Record<string, string>>): FewStepHint | undefined {
  const names: [string, string][] = [['file name', basename(file)], ...NAME_FIELDS.filter((f) => metadata[f]).map((f): [string, string] => [`metadata ${f}`, metadata[f]])]
  for (const kind of KINDS) {
    for (const [where, name] of names) {
      if (!kind.pattern.test(name)) continue
      const m = /(\d+)[-_ ]?steps?/i.exec(name)
      const steps = m ? Number(m[1]) : undefined
      const trained = where === 'metadata ss_sd_model_name' ? ' (the base it was trained on)' : ''
      return { id: kind.id, label: kind.label, evidence: `${where} "${name}"${trained}`, distilledSteps: steps, settings: kind.settings(steps, name) }
    }
  }
  return undefined
}

/** One line for `inspect`: "LCM: 4 (2–8) steps, CFG 1–2 (…), sampler LCM; note". */
export function fewStepLine(h: FewStepHint): string {
  const s = h.settings
  return `${h.label}: ${s.steps} steps, CFG ${s.cfg}, sampler ${s.sampler}${s.note ? `; ${s.note}` : ''} [${h.evidence}]`
}
