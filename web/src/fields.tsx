/** Labelled form controls with the server's error for their field shown beneath them. */
import type { ComponentChildren } from 'preact'

interface FieldProps { readonly id: string; readonly label: string; readonly error?: string; readonly children: ComponentChildren }

export function Field({ id, label, error, children }: FieldProps) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {error && <p class="error" id={`${id}-error`} role="alert">{error}</p>}
    </div>
  )
}

interface NumberProps { readonly id: string; readonly label: string; readonly value: number; readonly min?: number; readonly max?: number; readonly step?: number; readonly error?: string; readonly onChange: (v: number) => void }

export function NumberField(p: NumberProps) {
  return (
    <Field id={p.id} label={p.label} error={p.error}>
      <input id={p.id} type="number" inputMode="decimal" value={p.value} min={p.min} max={p.max} step={p.step ?? 1}
        aria-invalid={p.error ? true : undefined} aria-describedby={p.error ? `${p.id}-error` : undefined}
        onInput={(e) => { const v = (e.currentTarget as HTMLInputElement).valueAsNumber; if (Number.isFinite(v)) p.onChange(v) }} />
    </Field>
  )
}

interface SelectProps { readonly id: string; readonly label: string; readonly value: string; readonly options: readonly (readonly [string, string])[]; readonly error?: string; readonly onChange: (v: string) => void }

export function SelectField(p: SelectProps) {
  return (
    <Field id={p.id} label={p.label} error={p.error}>
      <select id={p.id} value={p.value} aria-invalid={p.error ? true : undefined} aria-describedby={p.error ? `${p.id}-error` : undefined}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {p.options.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
      </select>
    </Field>
  )
}
