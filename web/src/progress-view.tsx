/** The running job's progress bar (A1111's fraction and ETA: elapsed / progress − elapsed) and live preview. */
import { useEffect, useState } from 'preact/hooks'
import { onJobEvent } from './events.ts'

interface Live { readonly jobId: string; readonly started: number; readonly fraction: number; readonly label: string; readonly preview?: string }

const fmt = (s: number): string => (s >= 60 ? `${Math.floor(s / 60)}m ${Math.round(s % 60)}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`)

export function ProgressView() {
  const [live, setLive] = useState<Live | undefined>()
  useEffect(() => onJobEvent((e) => {
    if (e.type === 'started') setLive({ jobId: e.jobId, started: Date.now(), fraction: 0, label: 'starting' })
    else if (e.type === 'phase') setLive((l) => (l && l.jobId === e.jobId ? { ...l, label: e.phase } : l))
    else if (e.type === 'step') {
      setLive((l) => {
        const base = l && l.jobId === e.jobId ? l : { jobId: e.jobId, started: Date.now(), fraction: 0, label: '' }
        const fraction = (e.batch + e.step / e.steps) / e.batchCount
        const batch = e.batchCount > 1 ? `batch ${e.batch + 1}/${e.batchCount}, ` : ''
        return { ...base, fraction, label: `${batch}step ${e.step}/${e.steps}`, preview: e.preview ?? base.preview }
      })
    } else if (e.type === 'settled') setLive((l) => (l && l.jobId === e.jobId ? undefined : l))
  }), [])
  if (!live) return <div class="progress idle" aria-live="polite"><span>Idle</span></div>
  const elapsed = (Date.now() - live.started) / 1000
  const eta = live.fraction > 0 ? elapsed / live.fraction - elapsed : undefined
  return (
    <div class="progress" aria-live="polite">
      <progress max={1} value={live.fraction} aria-label="Generation progress" />
      <p class="progress-text">{Math.round(live.fraction * 100)}% · {live.label}{eta !== undefined ? ` · ETA ${fmt(eta)}` : ''}</p>
      {live.preview && <img class="preview" alt="Live preview" src={`data:image/png;base64,${live.preview}`} />}
    </div>
  )
}
