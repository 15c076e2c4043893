/**
 * A1111's "Refiner" panel (both tabs): off by default; when on, the checkpoint that takes over and the fraction of
 * the sampling after which it does (A1111's refiner_switch_at, 0.8). Nothing is sent until a checkpoint is chosen.
 */
import { NumberField, SelectField } from './fields.tsx'
import type { RefinerParams } from './params.ts'
import { ToggleSection } from './toggle-section.tsx'
import type { Catalog } from './types.ts'

interface Props {
  readonly refiner: RefinerParams
  readonly set: (patch: Partial<RefinerParams>) => void
  readonly catalog: Catalog
  readonly errors: Readonly<Record<string, string>>
  readonly idPrefix: string
}

export function RefinerSection({ refiner: r, set, catalog, errors, idPrefix }: Props) {
  return (
    <ToggleSection label="Refiner" enabled={r.enabled} onToggle={(enabled) => set({ enabled })}
      hint={r.enabled && !r.checkpoint ? 'choose a checkpoint' : undefined}>
      <SelectField id={`${idPrefix}refiner-checkpoint`} label="Refiner checkpoint" value={r.checkpoint} error={errors.refiner_checkpoint} onChange={(v) => set({ checkpoint: v })}
        options={[['', '—'], ...catalog.checkpoints.map((c) => [c.title, c.title] as const)]} />
      <NumberField id={`${idPrefix}refiner-switch-at`} label="Switch at" value={r.switchAt} min={0.01} max={1} step={0.01} error={errors.refiner_switch_at} onChange={(v) => set({ switchAt: v })} />
    </ToggleSection>
  )
}
