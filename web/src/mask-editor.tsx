/**
 * The inpaint mask, painted with the pointer on a canvas laid over the picture at the picture's own resolution:
 * brush or eraser with a size in picture pixels, undo, invert and clear. The canvas keeps only what is painted
 * (opaque INK, a colour that shows on light and dark pictures alike); `exportMask` flattens its coverage to A1111's
 * mask PNG (white = repaint, black = keep), or undefined when nothing is painted.
 */
import { useEffect, useRef, useState } from 'preact/hooks'

const UNDO_DEPTH = 30
const INK = '#f03e3e'

export interface MaskHandle {
  /** PNG base64 without a data: prefix; undefined when nothing is painted. */
  exportMask(): string | undefined
}

interface Props {
  readonly src: string
  readonly width: number
  readonly height: number
  /** Set while mounted: how the generate button reads the mask. */
  readonly handle: { current: MaskHandle | undefined }
  readonly onChange: (painted: boolean) => void
}

function painted(ctx: CanvasRenderingContext2D, w: number, h: number): boolean {
  const a = ctx.getImageData(0, 0, w, h).data
  for (let i = 3; i < a.length; i += 4) if (a[i] !== 0) return true
  return false
}

export function MaskEditor({ src, width, height, handle, onChange }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null)
  const undo = useRef<ImageData[]>([])
  const last = useRef<[number, number] | undefined>()
  const [brush, setBrush] = useState(Math.max(4, Math.round(Math.min(width, height) / 16)))
  const [erase, setErase] = useState(false)
  const [undoCount, setUndoCount] = useState(0)
  const ctx = (): CanvasRenderingContext2D => canvas.current!.getContext('2d', { willReadFrequently: true })!
  const changed = (): void => { setUndoCount(undo.current.length); onChange(painted(ctx(), width, height)) }
  const snapshot = (): void => {
    undo.current.push(ctx().getImageData(0, 0, width, height))
    if (undo.current.length > UNDO_DEPTH) undo.current.shift()
  }

  useEffect(() => {
    undo.current = []
    ctx().clearRect(0, 0, width, height)
    changed()
    handle.current = {
      exportMask() {
        if (!painted(ctx(), width, height)) return undefined
        const out = document.createElement('canvas')
        out.width = width
        out.height = height
        const o = out.getContext('2d')!
        // The painted coverage turned white (source-in keeps the alpha), then laid on black.
        o.drawImage(canvas.current!, 0, 0)
        o.globalCompositeOperation = 'source-in'
        o.fillStyle = '#fff'
        o.fillRect(0, 0, width, height)
        o.globalCompositeOperation = 'destination-over'
        o.fillStyle = '#000'
        o.fillRect(0, 0, width, height)
        return out.toDataURL('image/png').replace(/^data:image\/png;base64,/, '')
      },
    }
    return () => { handle.current = undefined }
  }, [src, width, height])

  /** The pointer's place in picture pixels (the canvas is shown scaled). */
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.current!.getBoundingClientRect()
    return [(e.clientX - r.left) * width / r.width, (e.clientY - r.top) * height / r.height]
  }
  const stroke = (from: [number, number], to: [number, number]): void => {
    const c = ctx()
    c.globalCompositeOperation = erase ? 'destination-out' : 'source-over'
    c.strokeStyle = INK
    c.lineWidth = brush
    c.lineCap = 'round'
    c.lineJoin = 'round'
    c.beginPath()
    c.moveTo(...from)
    c.lineTo(...to)
    c.stroke()
  }
  const down = (e: PointerEvent): void => {
    e.preventDefault()
    canvas.current!.setPointerCapture(e.pointerId)
    snapshot()
    const p = at(e)
    last.current = p
    stroke(p, p)
  }
  const move = (e: PointerEvent): void => {
    if (!last.current) return
    const p = at(e)
    stroke(last.current, p)
    last.current = p
  }
  const up = (): void => { if (last.current) { last.current = undefined; changed() } }
  const whole = (op: 'invert' | 'clear'): void => {
    snapshot()
    const c = ctx()
    if (op === 'clear') c.clearRect(0, 0, width, height)
    else {
      // XOR with an opaque sheet: painted becomes empty and empty becomes painted.
      c.globalCompositeOperation = 'xor'
      c.fillStyle = INK
      c.fillRect(0, 0, width, height)
    }
    changed()
  }
  const back = (): void => {
    const prev = undo.current.pop()
    if (prev) ctx().putImageData(prev, 0, 0)
    changed()
  }

  return (
    <div class="mask-editor">
      <div class="mask-stage">
        <img src={src} alt="The picture to start from" draggable={false} />
        <canvas ref={canvas} width={width} height={height} class={erase ? 'mask erasing' : 'mask'} aria-label="Inpaint mask: paint over what to repaint"
          onPointerDown={down} onPointerMove={move} onPointerUp={up} onPointerCancel={up} />
      </div>
      <div class="row mask-tools" role="group" aria-label="Mask tools">
        <label class="inline">Brush size <input type="range" min={1} max={Math.max(8, Math.round(Math.max(width, height) / 4))} value={brush}
          onInput={(e) => setBrush((e.currentTarget as HTMLInputElement).valueAsNumber)} /> <span class="hint">{brush}px</span></label>
        <button type="button" aria-pressed={!erase} class={erase ? 'chip' : 'chip on'} onClick={() => setErase(false)}>Paint</button>
        <button type="button" aria-pressed={erase} class={erase ? 'chip on' : 'chip'} onClick={() => setErase(true)}>Erase</button>
        <button type="button" class="chip" disabled={undoCount === 0} onClick={back}>Undo</button>
        <button type="button" class="chip" onClick={() => whole('invert')}>Invert mask</button>
        <button type="button" class="chip" onClick={() => whole('clear')}>Clear mask</button>
      </div>
    </div>
  )
}
