/**
 * The live queue: queued and running jobs (refreshed on every job event), with cancel. The jobs API runs jobs in
 * the order they came and has no reorder operation, so the queue shows positions without moving them.
 */
import { useEffect, useState } from 'preact/hooks'
import { api } from './api.ts'
import { onJobEvent } from './events.ts'
import type { JobView } from './types.ts'

export function QueueView() {
  const [jobs, setJobs] = useState<JobView[]>([])
  const [error, setError] = useState<string | undefined>()
  const load = (): void => { api<JobView[]>('/sdloom/v1/jobs?limit=100').then(setJobs, (e: Error) => setError(e.message)) }
  useEffect(() => { load(); return onJobEvent((e) => { if (e.type === 'queued' || e.type === 'started' || e.type === 'settled') load() }) }, [])
  const cancel = (id: string): void => { api(`/sdloom/v1/jobs/${id}`, { method: 'DELETE' }).then(load, (e: Error) => setError(e.message)) }
  const live = jobs.filter((j) => j.state === 'queued' || j.state === 'running').sort((a, b) => (a.position ?? -1) - (b.position ?? -1))
  const recent = jobs.filter((j) => j.state !== 'queued' && j.state !== 'running').slice(0, 10)
  return (
    <section class="queue" aria-label="Queue">
      {error && <p class="error" role="alert">{error}</p>}
      <h2>Queue</h2>
      {live.length === 0 ? <p class="hint">Nothing queued or running.</p> : (
        <ol class="job-list">
          {live.map((j) => (
            <li key={j.id}>
              <span class={`state ${j.state}`}>{j.state}{j.position ? ` #${j.position}` : ''}</span>
              <span class="job-id">{j.id.slice(0, 8)}</span>
              <span>{new Date(j.createdAt).toLocaleTimeString()}</span>
              <button type="button" onClick={() => cancel(j.id)} aria-label={`Cancel job ${j.id.slice(0, 8)}`}>Cancel</button>
            </li>
          ))}
        </ol>
      )}
      <h2>Recent</h2>
      <ul class="job-list">
        {recent.map((j) => (
          <li key={j.id}>
            <span class={`state ${j.state}`}>{j.state}</span><span class="job-id">{j.id.slice(0, 8)}</span>
            <span>{j.images.length} image(s)</span>{j.error && <span class="error">{j.error.message}</span>}
          </li>
        ))}
      </ul>
    </section>
  )
}
