/** A panel of the generate form that a checkbox in its legend turns on (A1111's Hires. fix and Refiner accordions). */
import type { ComponentChildren } from 'preact'

interface Props {
  readonly label: string
  readonly enabled: boolean
  readonly onToggle: (enabled: boolean) => void
  /** Shown beside the legend while on (the hires target size, a missing choice). */
  readonly hint?: string
  readonly children: ComponentChildren
}

export function ToggleSection({ label, enabled, onToggle, hint, children }: Props) {
  return (
    <fieldset class="field wide toggle-section">
      <legend>
        <label class="inline"><input type="checkbox" checked={enabled} onChange={(e) => onToggle((e.currentTarget as HTMLInputElement).checked)} /> {label}</label>
        {hint && <span class="hint"> {hint}</span>}
      </legend>
      {enabled && <div class="form-grid">{children}</div>}
    </fieldset>
  )
}
