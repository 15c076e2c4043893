/**
 * The img2img tab: the generate view (its own prompts and parameters) with a picture to start from, dropped or
 * chosen, denoising strength and resize mode; a mask painted over the picture makes it an inpaint, with A1111's mask
 * blur, masked content, mask mode and "only masked" with padding. The picture is re-encoded as PNG in the page, so
 * any format the browser shows can be used.
 */
import { useRef, useState } from 'preact/hooks'
import { Field, NumberField, SelectField } from './fields.tsx'
import { GenerateView, type GenerateViewProps } from './generate.tsx'
import { img2imgFields, MASKED_CONTENT, RESIZE_MODES, snapSize, type Img2ImgParams, type InitImage } from './img2img-params.ts'
import { MaskEditor, type MaskHandle } from './mask-editor.tsx'

/** Any picture the browser can decode, as PNG base64 with its size. */
export async function toInitImage(blob: Blob, name: string): Promise<InitImage> {
  const bitmap = await createImageBitmap(blob)
  const c = document.createElement('canvas')
  c.width = bitmap.width
  c.height = bitmap.height
  c.getContext('2d')!.drawImage(bitmap, 0, 0)
  bitmap.close()
  return { png: c.toDataURL('image/png').replace(/^data:image\/png;base64,/, ''), width: c.width, height: c.height, name }
}

interface Props extends Omit<GenerateViewProps, 'extra' | 'mode' | 'panel'> {
  readonly init: Img2ImgParams
  readonly setInit: (patch: Partial<Img2ImgParams>) => void
}

export function Img2ImgView({ init, setInit, ...view }: Props) {
  const mask = useRef<MaskHandle | undefined>()
  const [painted, setPainted] = useState(false)
  const [pickError, setPickError] = useState<string | undefined>()
  const [over, setOver] = useState(false)
  // Set by the panel's render: drops the generate view's "choose a picture" error once one is chosen.
  const dismiss = useRef<(field: string) => void>(() => undefined)
  const take = (file: File): void => {
    setPickError(undefined)
    dismiss.current('init_images')
    toInitImage(file, file.name).then((image) => {
      setInit({ image })
      view.set({ width: snapSize(image.width), height: snapSize(image.height) })
    }, () => setPickError(`${file.name}: the browser cannot read this as a picture; use a PNG, JPEG or WebP file`))
  }
  // The page-wide drop shows PNG info; a drop here is the picture, so it stops at this box.
  const drop = (e: DragEvent): void => {
    e.preventDefault()
    e.stopPropagation()
    setOver(false)
    const f = e.dataTransfer?.files[0]
    if (f) take(f)
  }
  const i = init.image
  const extra = (): Record<string, unknown> => img2imgFields(init, painted ? mask.current?.exportMask() : undefined)

  return (
    <GenerateView {...view} mode="img2img" extra={extra} panel={(errors, dismissError) => { dismiss.current = dismissError; return (
      <div class="init-panel">
        <Field id="init-image" label="Picture to start from" error={pickError ?? errors.init_images}>
          <div class={over ? 'drop-zone over' : 'drop-zone'} onDragOver={(e) => { e.preventDefault(); e.stopPropagation(); setOver(true) }}
            onDragLeave={() => setOver(false)} onDrop={drop} data-testid="init-drop">
            {i ? <MaskEditor src={`data:image/png;base64,${i.png}`} width={i.width} height={i.height} handle={mask} onChange={setPainted} />
              : <p class="hint">Drop a picture here, or choose a file below.</p>}
            <div class="row">
              <input id="init-image" type="file" accept="image/*" onChange={(e) => { const f = (e.currentTarget as HTMLInputElement).files?.[0]; if (f) take(f) }} />
              {i && <span class="hint">{i.name} · {i.width}×{i.height}</span>}
              {i && <button type="button" class="chip" onClick={() => { setInit({ image: undefined }); setPainted(false) }}>Remove picture</button>}
            </div>
          </div>
        </Field>
        <div class="form-grid">
          <div class="field wide"><Field id="denoise" label={`Denoising strength: ${init.denoise.toFixed(2)}`} error={errors.denoising_strength}>
            <input id="denoise" type="range" min={0} max={1} step={0.01} value={init.denoise}
              onInput={(e) => setInit({ denoise: (e.currentTarget as HTMLInputElement).valueAsNumber })} />
          </Field></div>
          <SelectField id="resize-mode" label="Resize mode" value={String(init.resizeMode)} onChange={(v) => setInit({ resizeMode: Number(v) })}
            options={RESIZE_MODES.map((m, n) => [String(n), m] as const)} />
        </div>
        <fieldset class={painted ? 'inpaint' : 'inpaint off'}>
          <legend>Inpaint {painted ? '(mask painted)' : '(paint a mask on the picture to use these)'}</legend>
          <div class="form-grid">
            <NumberField id="mask-blur" label="Mask blur" value={init.maskBlur} min={0} max={64} onChange={(v) => setInit({ maskBlur: v })} />
            <SelectField id="mask-mode" label="Mask mode" value={init.invertMask ? '1' : '0'} onChange={(v) => setInit({ invertMask: v === '1' })}
              options={[['0', 'Inpaint masked'], ['1', 'Inpaint not masked']]} />
            <SelectField id="masked-content" label="Masked content" value={String(init.maskedContent)} onChange={(v) => setInit({ maskedContent: Number(v) })}
              options={MASKED_CONTENT.map((m, n) => [String(n), m] as const)} />
            <SelectField id="inpaint-area" label="Inpaint area" value={init.onlyMasked ? 'masked' : 'whole'} onChange={(v) => setInit({ onlyMasked: v === 'masked' })}
              options={[['whole', 'Whole picture'], ['masked', 'Only masked']]} />
            <NumberField id="padding" label="Only masked padding, pixels" value={init.padding} min={0} max={256} step={4} onChange={(v) => setInit({ padding: v })} />
          </div>
        </fieldset>
      </div>
    ) }} />
  )
}
