/**
 * A1111's "Hires. fix" panel of the txt2img tab: off by default; when on, the upscaler (latent modes, Lanczos,
 * Nearest, the library's ESRGAN-family models), upscale by, hires steps (0 = the first pass's), the second pass's
 * denoising strength and an optional other checkpoint for it. The target size is shown as A1111 shows it.
 */
import { NumberField, SelectField } from './fields.tsx'
import type { HiresParams } from './params.ts'
import { ToggleSection } from './toggle-section.tsx'
import type { Catalog } from './types.ts'

interface Props {
  readonly hires: HiresParams
  readonly set: (patch: Partial<HiresParams>) => void
  readonly width: number
  readonly height: number
  readonly catalog: Catalog
  readonly errors: Readonly<Record<string, string>>
}

export function HiresSection({ hires: h, set, width, height, catalog, errors }: Props) {
  return (
    <ToggleSection label="Hires. fix" enabled={h.enabled} onToggle={(enabled) => set({ enabled })}
      hint={h.enabled ? `from ${width}×${height} to ${Math.trunc(width * h.scale)}×${Math.trunc(height * h.scale)}` : undefined}>
      <SelectField id="hires-upscaler" label="Hires upscaler" value={h.upscaler} error={errors.hr_upscaler} onChange={(v) => set({ upscaler: v })}
        options={(catalog.upscalers.length > 0 ? catalog.upscalers : [h.upscaler]).map((n) => [n, n] as const)} />
      <NumberField id="hires-scale" label="Upscale by" value={h.scale} min={1} max={4} step={0.05} error={errors.hr_scale} onChange={(v) => set({ scale: v })} />
      <NumberField id="hires-steps" label="Hires steps" value={h.steps} min={0} max={150} error={errors.hr_second_pass_steps} onChange={(v) => set({ steps: v })} />
      <NumberField id="hires-denoise" label="Hires denoising strength" value={h.denoise} min={0} max={1} step={0.01} error={errors.denoising_strength} onChange={(v) => set({ denoise: v })} />
      <SelectField id="hires-checkpoint" label="Hires checkpoint" value={h.checkpoint} error={errors.hr_checkpoint_name} onChange={(v) => set({ checkpoint: v })}
        options={[['', 'Use same checkpoint'], ...catalog.checkpoints.map((c) => [c.title, c.title] as const)]} />
    </ToggleSection>
  )
}
