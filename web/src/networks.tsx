/**
 * The extra networks browser: LoRA, LyCORIS and embedding cards from the library with their preview, base
 * architecture badge (marked when it does not fit the chosen checkpoint), trigger words and rank/algorithm; search and
 * folder filter. A click adds `<lora:NAME:W>` (or the embedding's name) to the prompt box last focused; a second
 * click removes it; the weight is edited on the card.
 */
import { useMemo, useState } from 'preact/hooks'
import { hasLora, hasWord, setLoraWeight, toggleLora, toggleWord } from './prompt-edit.ts'
import type { LibraryEntry } from './types.ts'

/** The A1111 network name: the file's stem. */
export const networkName = (e: LibraryEntry): string => e.rel.slice(e.rel.lastIndexOf('/') + 1).replace(/\.[^.]+$/, '')
/** The kind folder's own name (Lora, LyCORIS, embeddings) and the sub-folder inside it: what A1111's folder filter shows. */
const subFolder = (e: LibraryEntry): string => `${e.folder.split(/[\\/]/).filter(Boolean).pop() ?? ''}${e.rel.includes('/') ? `/${e.rel.slice(0, e.rel.lastIndexOf('/'))}` : ''}`

/** Architecture families an id stands for ("sd15" → sd1, "sd1|sd2" → both, "sdxl-base" → sdxl). */
function families(arch: string | undefined): Set<string> {
  return new Set((arch ?? '').split('|').map((a) => (a.startsWith('sdxl') ? 'sdxl' : a.startsWith('sd1') ? 'sd1' : a.startsWith('sd2') ? 'sd2' : a)).filter((a) => a !== '' && a !== 'unknown'))
}

export function archMismatch(network: LibraryEntry, checkpoint: LibraryEntry | undefined): boolean {
  const a = families(network.inspect?.arch)
  const b = families(checkpoint?.inspect?.arch)
  if (a.size === 0 || b.size === 0) return false
  return ![...a].some((x) => b.has(x))
}

function triggers(e: LibraryEntry): string[] {
  const activation = e.sidecars.userMetadata?.['activation text']
  const words = [...(typeof activation === 'string' && activation ? [activation] : []), ...(e.sidecars.civitai?.trainedWords ?? [])]
  return words.length > 0 ? words : [...(e.inspect?.trainingTags ?? [])].slice(0, 3)
}

const preferredWeight = (e: LibraryEntry): number => {
  const w = Number(e.sidecars.userMetadata?.['preferred weight'])
  return Number.isFinite(w) && w !== 0 ? w : 1
}

interface Props {
  readonly library: readonly LibraryEntry[]
  readonly checkpoint: LibraryEntry | undefined
  /** The text of the prompt box that takes insertions, and its setter. */
  readonly target: { readonly which: 'prompt' | 'negative'; readonly text: string; readonly set: (v: string) => void }
}

function Card({ e, checkpoint, target }: { readonly e: LibraryEntry } & Omit<Props, 'library'>) {
  const name = networkName(e)
  const isLora = e.kind === 'lora'
  const [weight, setWeight] = useState(preferredWeight(e))
  const inPrompt = isLora ? hasLora(target.text, name) : hasWord(target.text, name)
  const mismatch = archMismatch(e, checkpoint)
  const algo = e.inspect?.algorithms?.[0]
  const rank = e.inspect?.ranks?.[0]
  const click = (): void => target.set(isLora ? toggleLora(target.text, name, weight) : toggleWord(target.text, name))
  return (
    <li class={`card${inPrompt ? ' in-prompt' : ''}${mismatch ? ' mismatch' : ''}`}>
      <button type="button" class="card-main" onClick={click} aria-pressed={inPrompt}
        aria-label={`${inPrompt ? 'Remove' : 'Add'} ${isLora ? 'LoRA' : 'embedding'} ${name} ${inPrompt ? 'from' : 'to'} the ${target.which === 'negative' ? 'negative prompt' : 'prompt'}`}>
        {e.sidecars.preview
          ? <img loading="lazy" alt="" src={`/sdloom/v1/library/preview?file=${encodeURIComponent(e.file)}`} />
          : <span class="placeholder" aria-hidden="true">{name.slice(0, 2)}</span>}
        <span class="card-name">{name}</span>
      </button>
      <div class="card-meta">
        <span class={`badge${mismatch ? ' bad' : ''}`} title={mismatch ? 'Made for another base model than the chosen checkpoint' : 'Base model'}>
          {e.error ? 'unreadable' : e.inspect?.archLabel ?? '?'}{mismatch ? ' ≠ checkpoint' : ''}
        </span>
        {algo && <span class="badge">{algo}{rank !== undefined ? ` r${rank}` : ''}</span>}
        {e.inspect?.vectors !== undefined && <span class="badge">{e.inspect.vectors} vec</span>}
      </div>
      {triggers(e).length > 0 && <p class="triggers" title="Trigger words">{triggers(e).join(', ')}</p>}
      {isLora && (
        <label class="weight">Weight
          <input type="number" step={0.05} value={weight} aria-label={`Weight of ${name}`} onInput={(ev) => {
            const w = (ev.currentTarget as HTMLInputElement).valueAsNumber
            if (!Number.isFinite(w)) return
            setWeight(w)
            if (inPrompt) target.set(setLoraWeight(target.text, name, w))
          }} />
        </label>
      )}
    </li>
  )
}

export function Networks({ library, checkpoint, target }: Props) {
  const [tab, setTab] = useState<'lora' | 'embedding'>('lora')
  const [query, setQuery] = useState('')
  const [folder, setFolder] = useState('')
  const ofKind = useMemo(() => library.filter((e) => e.kind === tab), [library, tab])
  const folders = useMemo(() => [...new Set(ofKind.map(subFolder))].sort(), [ofKind])
  const q = query.trim().toLowerCase()
  const shown = ofKind.filter((e) => (folder === '' || subFolder(e) === folder)
    && (q === '' || e.rel.toLowerCase().includes(q) || triggers(e).some((t) => t.toLowerCase().includes(q))))
  return (
    <section class="networks" aria-label="Extra networks">
      <div class="row">
        <div role="tablist" aria-label="Network kind" class="chips">
          {(['lora', 'embedding'] as const).map((k) => (
            <button type="button" role="tab" key={k} aria-selected={tab === k} class={tab === k ? 'chip on' : 'chip'} onClick={() => { setTab(k); setFolder('') }}>
              {k === 'lora' ? 'LoRA / LyCORIS' : 'Textual inversion'}
            </button>
          ))}
        </div>
        <label class="inline">Search <input type="search" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} /></label>
        <label class="inline">Folder
          <select value={folder} onChange={(e) => setFolder((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            {folders.map((f) => <option key={f} value={f}>{f}</option>)}
          </select>
        </label>
        <span class="hint">Inserts into the {target.which === 'negative' ? 'negative prompt' : 'prompt'}</span>
      </div>
      {shown.length === 0 ? <p class="hint">Nothing here{q ? ` matches "${query}"` : ''}.</p>
        : <ul class="cards">{shown.map((e) => <Card key={e.file} e={e} checkpoint={checkpoint} target={target} />)}</ul>}
    </section>
  )
}
