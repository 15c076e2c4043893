/**
 * A prompt textarea with autocomplete (A1111's tagcomplete habit): LoRA names complete to `<lora:NAME:1>`,
 * embedding names and tags.csv tags to themselves. ArrowUp/Down choose, Enter or Tab take, Escape closes;
 * Ctrl+Enter generates; Ctrl+ArrowUp/Down change the attention weight of the selection or the word at the caret.
 */
import { useMemo, useRef, useState } from 'preact/hooks'
import { adjustWeight, tokenAt } from './prompt-edit.ts'

export interface Suggestion { readonly label: string; readonly insert: string; readonly kind: string }

interface Props {
  readonly id: string
  readonly label: string
  readonly value: string
  readonly onInput: (v: string) => void
  readonly onFocus: () => void
  readonly onSubmit: () => void
  readonly suggestions: readonly Suggestion[]
  readonly error?: string
}

function matches(all: readonly Suggestion[], word: string): Suggestion[] {
  const w = word.toLowerCase().replace(/^<lora:/, '').replace(/\s+/g, '_')
  if (w.length < 2) return []
  const starts = all.filter((s) => s.label.toLowerCase().startsWith(w))
  const inside = all.filter((s) => !s.label.toLowerCase().startsWith(w) && s.label.toLowerCase().includes(w))
  return [...starts, ...inside].slice(0, 8)
}

export function PromptBox(p: Props) {
  const ref = useRef<HTMLTextAreaElement>(null)
  const [token, setToken] = useState<{ start: number; word: string } | undefined>()
  const [active, setActive] = useState(0)
  const list = useMemo(() => (token ? matches(p.suggestions, token.word) : []), [token, p.suggestions])

  const take = (s: Suggestion): void => {
    const el = ref.current
    if (!el || !token) return
    const end = el.selectionStart
    const next = `${p.value.slice(0, token.start)}${s.insert}${p.value.slice(end)}`
    p.onInput(next)
    setToken(undefined)
    const caret = token.start + s.insert.length
    requestAnimationFrame(() => { el.focus(); el.setSelectionRange(caret, caret) })
  }
  const onKeyDown = (e: KeyboardEvent): void => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); setToken(undefined); p.onSubmit(); return }
    if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && (e.ctrlKey || e.metaKey)) {
      e.preventDefault()
      const el = e.currentTarget as HTMLTextAreaElement
      const edit = adjustWeight(el.value, el.selectionStart, el.selectionEnd, e.key === 'ArrowUp' ? 0.1 : -0.1)
      p.onInput(edit.text)
      requestAnimationFrame(() => el.setSelectionRange(edit.start, edit.end))
      return
    }
    if (list.length === 0) return
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : list.length - 1)) % list.length) }
    else if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); take(list[Math.min(active, list.length - 1)]) }
    else if (e.key === 'Escape') setToken(undefined)
  }
  const onInput = (e: Event): void => {
    const el = e.currentTarget as HTMLTextAreaElement
    p.onInput(el.value)
    setToken(tokenAt(el.value, el.selectionStart))
    setActive(0)
  }
  const listId = `${p.id}-suggestions`
  return (
    <div class="prompt-box">
      <label for={p.id}>{p.label}</label>
      <textarea id={p.id} ref={ref} rows={3} value={p.value} onInput={onInput} onKeyDown={onKeyDown} onFocus={p.onFocus}
        onBlur={() => setTimeout(() => setToken(undefined), 150)} aria-autocomplete="list" aria-controls={listId}
        aria-invalid={p.error ? true : undefined} aria-describedby={p.error ? `${p.id}-error` : undefined} />
      {list.length > 0 && (
        <ul class="suggestions" id={listId} role="listbox" aria-label={`${p.label} suggestions`}>
          {list.map((s, i) => (
            <li key={s.insert} role="option" aria-selected={i === active} class={i === active ? 'active' : ''} onMouseDown={(e) => { e.preventDefault(); take(s) }}>
              <span>{s.label}</span><small>{s.kind}</small>
            </li>
          ))}
        </ul>
      )}
      {p.error && <p class="error" id={`${p.id}-error`} role="alert">{p.error}</p>}
    </div>
  )
}
