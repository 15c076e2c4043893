/** One Server-Sent Events stream per page (/sdloom/v1/events, every job), shared by the views that listen. */
export type JobEvent = { readonly jobId: string } & (
  | { readonly type: 'started' | 'queued' }
  | { readonly type: 'phase'; readonly phase: string }
  | { readonly type: 'step'; readonly batch: number; readonly batchCount: number; readonly step: number; readonly steps: number; readonly etaSeconds: number; readonly preview?: string }
  | { readonly type: 'image'; readonly index: number; readonly seed: number }
  | { readonly type: 'settled'; readonly state: string; readonly error?: string }
)

const TYPES = ['started', 'queued', 'phase', 'step', 'image', 'settled'] as const
const listeners = new Set<(e: JobEvent) => void>()
let source: EventSource | undefined

export function onJobEvent(fn: (e: JobEvent) => void): () => void {
  if (!source) {
    source = new EventSource('/sdloom/v1/events')
    for (const t of TYPES) source.addEventListener(t, (m) => { const e = JSON.parse((m as MessageEvent<string>).data) as JobEvent; for (const l of listeners) l(e) })
  }
  listeners.add(fn)
  return () => { listeners.delete(fn) }
}
