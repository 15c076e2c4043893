/** PNG info: the parameters of a dropped or chosen PNG (A1111's or sdloom's) and a button that restores them. */
import type { PngInfo } from './types.ts'

interface Props {
  readonly info: PngInfo | undefined
  readonly error: string | undefined
  readonly pick: (file: File) => void
  readonly restore: () => void
}

export function PngInfoView({ info, error, pick, restore }: Props) {
  // Size-1/Size-2 are png-info's split of Size, shown once as Size.
  const fields = info ? Object.entries(info.parameters).filter(([k]) => k !== 'Size-1' && k !== 'Size-2') : []
  return (
    <section class="png-info" aria-label="PNG info">
      <p class="hint">Drop a PNG anywhere on the page, or choose one:</p>
      <label class="inline">PNG file <input type="file" accept="image/png" onChange={(e) => { const f = (e.currentTarget as HTMLInputElement).files?.[0]; if (f) pick(f) }} /></label>
      {error && <p class="error" role="alert">{error}</p>}
      {info && (info.info === '' ? <p class="notice">This PNG carries no generation parameters.</p> : (
        <>
          <pre class="infotext" data-testid="png-infotext">{info.info}</pre>
          <button type="button" class="primary" onClick={restore}>Restore parameters to generate</button>
          <table class="params-table">
            <tbody>{fields.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{v}</td></tr>)}</tbody>
          </table>
        </>
      ))}
    </section>
  )
}
