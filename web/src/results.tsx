/** The finished job's images in a grid, the chosen one's infotext, "send parameters to prompt", "send to img2img" and "reuse seed". */
import { useState } from 'preact/hooks'
import type { JobView } from './types.ts'

interface Props {
  readonly job: JobView | undefined
  readonly sendToPrompt: (url: string) => void
  readonly sendToImg2img: (url: string) => void
  readonly reuseSeed: (seed: number) => void
}

export function Results({ job, sendToPrompt, sendToImg2img, reuseSeed }: Props) {
  const [chosen, setChosen] = useState(0)
  if (!job) return <div class="results empty"><p>Images appear here.</p></div>
  if (job.error && job.images.length === 0) return <div class="results"><p class="error" role="alert">{job.error.message}</p></div>
  const img = job.images[Math.min(chosen, job.images.length - 1)]
  return (
    <div class="results">
      {job.state === 'cancelled' && <p class="notice">Interrupted: {job.images.length} image(s) finished.</p>}
      {img?.url && <a href={img.url} target="_blank" rel="noopener"><img class="main-image" src={img.url} alt={`Result, seed ${img.seed}`} /></a>}
      {job.images.length > 1 && <div class="grid">
        {job.images.map((im, i) => im.url && (
          <button type="button" key={im.url} class={i === chosen ? 'thumb on' : 'thumb'} onClick={() => setChosen(i)} aria-label={`Image ${i + 1}, seed ${im.seed}`}>
            <img src={im.url} alt={`Result ${i + 1}, seed ${im.seed}`} />
          </button>
        ))}
      </div>}
      {img && (
        <div class="result-info">
          <pre class="infotext" data-testid="result-infotext">{img.infotext}</pre>
          <div class="row">
            {img.url && <button type="button" onClick={() => sendToPrompt(img.url!)}>Send parameters to prompt</button>}
            {img.url && <button type="button" onClick={() => sendToImg2img(img.url!)}>Send to img2img</button>}
            <button type="button" onClick={() => reuseSeed(img.seed)}>Reuse seed {img.seed}</button>
            {img.url && <a class="button" href={img.url} download={`${img.seed}.png`}>Download</a>}
          </div>
        </div>
      )}
    </div>
  )
}
