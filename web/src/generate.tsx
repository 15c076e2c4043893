/**
 * The generate view of the txt2img and img2img tabs: prompts (Ctrl+Enter generates), Generate / Interrupt / Skip,
 * the parameters, the extra networks, progress with live preview, and the results. A generation is a job of
 * /sdloom/v1/jobs (saved, so it reaches the history; img2img's carry the fields `extra` adds: init_images makes it img2img); its
 * events come over the page's SSE stream; interrupt and skip are A1111's routes.
 */
import type { ComponentChildren } from 'preact'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { api, ApiError } from './api.ts'
import { onJobEvent } from './events.ts'
import { GenerateForm } from './generate-form.tsx'
import { networkName, Networks } from './networks.tsx'
import { MissingInputError } from './img2img-params.ts'
import { toJobBody, type GenParams } from './params.ts'
import { ProgressView } from './progress-view.tsx'
import { PromptBox, type Suggestion } from './prompt-box.tsx'
import { Results } from './results.tsx'
import type { Catalog, JobView } from './types.ts'


export interface GenerateViewProps {
  readonly mode: 'txt2img' | 'img2img'
  /** The mode's fields beyond txt2img's; may throw MissingInputError (shown beside its field). */
  readonly extra?: () => Record<string, unknown>
  /** The mode's own controls, above the parameters; given the errors so each shows beside its control, and a way to drop one. */
  readonly panel?: (errors: Readonly<Record<string, string>>, dismiss: (field: string) => void) => ComponentChildren
  readonly sendToImg2img: (url: string) => void
  readonly params: GenParams
  readonly set: (patch: Partial<GenParams>) => void
  readonly catalog: Catalog
  readonly sendToPrompt: (url: string) => void
  readonly notice: string | undefined
  readonly seedLocked: boolean
  readonly setSeedLocked: (v: boolean) => void
}

function suggestionsOf(c: Catalog): Suggestion[] {
  return [
    ...c.library.filter((e) => e.kind === 'lora').map((e) => ({ label: networkName(e), insert: `<lora:${networkName(e)}:1>`, kind: 'LoRA' })),
    ...c.library.filter((e) => e.kind === 'embedding').map((e) => ({ label: networkName(e), insert: networkName(e), kind: 'embedding' })),
    ...c.tags.map(([t, n]) => ({ label: t, insert: t.replaceAll('_', ' '), kind: String(n) })),
  ]
}

export function GenerateView({ mode, extra, panel, sendToImg2img, params: p, set, catalog, sendToPrompt, notice, seedLocked, setSeedLocked }: GenerateViewProps) {
  const idPrefix = mode === 'txt2img' ? '' : `${mode}-`
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [job, setJob] = useState<JobView | undefined>()
  const [pending, setPending] = useState<string | undefined>()
  const [target, setTarget] = useState<'prompt' | 'negative'>('prompt')
  const [showNetworks, setShowNetworks] = useState(true)
  const settled = useRef(new Set<string>())
  // The job whose results this view waits for (a ref: the SSE handler reads it without re-subscribing).
  const waiting = useRef<string | undefined>()
  const suggestions = useMemo(() => suggestionsOf(catalog), [catalog])

  const fetchJob = (id: string): void => {
    api<JobView>(`/sdloom/v1/jobs/${id}`).then((j) => {
      setJob(j)
      if (waiting.current === id) { waiting.current = undefined; setPending(undefined) }
    },
      (e: Error) => setErrors({ generate: e.message }))
  }
  useEffect(() => onJobEvent((e) => {
    if (e.type !== 'settled') return
    settled.current.add(e.jobId)
    if (waiting.current === e.jobId) fetchJob(e.jobId)
  }), [])

  const generate = async (): Promise<void> => {
    setErrors({})
    try {
      const body = { ...toJobBody(p, mode), ...extra?.() }
      const j = await api<JobView>('/sdloom/v1/jobs', { json: body })
      waiting.current = j.id
      setPending(j.id)
      // The job may have finished before its id came back.
      if (settled.current.has(j.id)) fetchJob(j.id)
    } catch (e) {
      const err = e as Error
      const field = err instanceof ApiError || err instanceof MissingInputError ? err.field : undefined
      setErrors({ [field ?? 'generate']: err.message })
    }
  }
  const post = (path: string) => { api(path, { json: {} }).catch((e: Error) => setErrors({ generate: e.message })) }
  const checkpointEntry = catalog.library.find((e) => e.kind === 'checkpoint' && catalog.checkpoints.find((c) => c.title === p.checkpoint)?.filename === e.file)
  const targetText = target === 'prompt' ? p.prompt : p.negative
  const lastSeed = job?.images[0]?.seed

  return (
    <div class="generate">
      <div class="prompts">
        <PromptBox id={`${idPrefix}prompt`} label="Prompt" value={p.prompt} onInput={(v) => set({ prompt: v })} onFocus={() => setTarget('prompt')}
          onSubmit={generate} suggestions={suggestions} error={errors.prompt} />
        <PromptBox id={`${idPrefix}negative`} label="Negative prompt" value={p.negative} onInput={(v) => set({ negative: v })} onFocus={() => setTarget('negative')}
          onSubmit={generate} suggestions={suggestions} />
        <div class="actions">
          <button type="button" class="primary" onClick={generate} title="Ctrl+Enter">Generate</button>
          <button type="button" onClick={() => post('/sdapi/v1/interrupt')}>Interrupt</button>
          <button type="button" onClick={() => post('/sdapi/v1/skip')}>Skip</button>
          {pending && <span class="hint" aria-live="polite">queued…</span>}
          {errors.generate && <p class="error" role="alert">{errors.generate}</p>}
        </div>
        {notice && <p class="notice" role="status">{notice}</p>}
      </div>
      <div class="params">
        {panel?.(errors, (field) => setErrors(({ [field]: _, ...rest }) => rest))}
        <GenerateForm idPrefix={idPrefix} params={p} set={set} catalog={catalog} errors={errors} seedLocked={seedLocked} setSeedLocked={setSeedLocked} lastSeed={lastSeed} />
      </div>
      <div class="output">
        <ProgressView />
        <Results job={job} sendToPrompt={sendToPrompt} sendToImg2img={sendToImg2img} reuseSeed={(seed) => set({ seed })} />
      </div>
      <div class="networks-wrap">
        <button type="button" class="link" aria-expanded={showNetworks} onClick={() => setShowNetworks(!showNetworks)}>
          {showNetworks ? 'Hide' : 'Show'} extra networks
        </button>
        {showNetworks && <Networks library={catalog.library} checkpoint={checkpointEntry}
          target={{ which: target, text: targetText, set: (v) => set(target === 'prompt' ? { prompt: v } : { negative: v }) }} />}
      </div>
    </div>
  )
}
