/**
 * The live queue: the running job and the queued ones in the order they will run (refreshed on every job event),
 * each with its prompt, size and steps; queued jobs move to the top, up or down (POST /sdloom/v1/jobs/:id/move) and
 * any can be cancelled. A move that loses a race (the job started meanwhile: 409) shows the server's sentence.
 */
import { useEffect, useState } from 'preact/hooks'
import { api } from './api.ts'
import { onJobEvent } from './events.ts'
import type { JobSummary, JobView } from './types.ts'

function Summary({ s }: { readonly s: JobSummary | null }) {
  if (!s) return null
  const size = s.width && s.height ? `${s.width}×${s.height}` : undefined
  const facts = [s.mode === 'txt2img' ? undefined : s.mode, size, s.steps ? `${s.steps} steps` : undefined, s.sampler ?? undefined, s.images > 1 ? `${s.images} images` : undefined].filter(Boolean)
  return (
    <span class="job-summary">
      <span class="job-prompt" title={s.prompt}>{s.prompt || <em>(empty prompt)</em>}</span>
      <span class="hint">{facts.join(' · ')}</span>
    </span>
  )
}

export function QueueView() {
  const [jobs, setJobs] = useState<JobView[]>([])
  const [error, setError] = useState<string | undefined>()
  // The whole queue (however long, and however far back a moved job arrived), plus the latest few finished.
  const load = (): void => {
    Promise.all(['state=running', 'state=queued&limit=500', 'limit=20'].map((q) => api<JobView[]>(`/sdloom/v1/jobs?${q}`)))
      .then(([running, queued, latest]) => setJobs([...running!, ...queued!, ...latest!.filter((j) => j.state !== 'queued' && j.state !== 'running')]),
        (e: Error) => setError(e.message))
  }
  useEffect(() => { load(); return onJobEvent((e) => { if (e.type === 'queued' || e.type === 'started' || e.type === 'settled') load() }) }, [])
  const act = (request: Promise<unknown>): void => { setError(undefined); request.then(load, (e: Error) => { setError(e.message); load() }) }
  const cancel = (id: string): void => act(api(`/sdloom/v1/jobs/${id}`, { method: 'DELETE' }))
  const move = (id: string, position: number): void => act(api(`/sdloom/v1/jobs/${id}/move`, { json: { position } }))
  const running = jobs.filter((j) => j.state === 'running')
  const queued = jobs.filter((j) => j.state === 'queued').sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
  const recent = jobs.filter((j) => j.state !== 'queued' && j.state !== 'running').slice(0, 10)
  const short = (j: JobView): string => j.summary?.prompt ? `“${j.summary.prompt.slice(0, 30)}”` : j.id.slice(0, 8)
  return (
    <section class="queue" aria-label="Queue">
      {error && <p class="error" role="alert">{error}</p>}
      <h2>Queue</h2>
      {running.length + queued.length === 0 ? <p class="hint">Nothing queued or running.</p> : (
        <ol class="job-list">
          {[...running, ...queued].map((j) => (
            <li key={j.id} data-job={j.id}>
              <span class={`state ${j.state}`}>{j.state}{j.position ? ` #${j.position}` : ''}</span>
              <Summary s={j.summary} />
              <span class="job-tools">
                {j.position !== null && <>
                  <button type="button" disabled={j.position === 1} onClick={() => move(j.id, 1)} aria-label={`Move ${short(j)} to the top`} title="Move to the top">⤒</button>
                  <button type="button" disabled={j.position === 1} onClick={() => move(j.id, j.position! - 1)} aria-label={`Move ${short(j)} up`} title="Move up">↑</button>
                  <button type="button" disabled={j.position === queued.length} onClick={() => move(j.id, j.position! + 1)} aria-label={`Move ${short(j)} down`} title="Move down">↓</button>
                </>}
                <button type="button" onClick={() => cancel(j.id)} aria-label={`Cancel ${short(j)}`}>Cancel</button>
              </span>
            </li>
          ))}
        </ol>
      )}
      <h2>Recent</h2>
      <ul class="job-list">
        {recent.map((j) => (
          <li key={j.id}>
            <span class={`state ${j.state}`}>{j.state}</span><Summary s={j.summary} />
            <span class="hint">{j.images.length} image(s)</span>{j.error && <span class="error">{j.error.message}</span>}
          </li>
        ))}
      </ul>
    </section>
  )
}
