/**
 * The generate view's parameters: checkpoint and VAE from the library, sampler and schedule from the server's lists,
 * steps, CFG, seed (random, reuse the last, lock), size with presets and swap, batch count and size, clip skip; on the
 * txt2img tab, hires fix; on both, the refiner.
 * Errors from the server appear under the control whose field they name.
 */
import { Field, NumberField, SelectField } from './fields.tsx'
import { HiresSection } from './hires-section.tsx'
import { RefinerSection } from './refiner-section.tsx'
import type { GenParams } from './params.ts'
import type { Catalog } from './types.ts'

const SIZE_PRESETS: readonly (readonly [number, number])[] = [[512, 512], [512, 768], [768, 512], [768, 768], [1024, 1024], [832, 1216], [1216, 832]]

interface Props {
  readonly params: GenParams
  readonly set: (patch: Partial<GenParams>) => void
  readonly catalog: Catalog
  readonly errors: Readonly<Record<string, string>>
  readonly seedLocked: boolean
  readonly setSeedLocked: (v: boolean) => void
  readonly lastSeed: number | undefined
  /** Prefixes the controls' ids: the txt2img and img2img tabs each have this form. */
  readonly idPrefix: string
}

export function GenerateForm({ params: p, set, catalog, errors, seedLocked, setSeedLocked, lastSeed, idPrefix }: Props) {
  return (
    <div class="form-grid">
      <SelectField id={`${idPrefix}checkpoint`} label="Checkpoint" value={p.checkpoint} error={errors.sd_model_checkpoint} onChange={(v) => set({ checkpoint: v })}
        options={catalog.checkpoints.map((c) => [c.title, c.title] as const)} />
      <SelectField id={`${idPrefix}vae`} label="VAE" value={p.vae} error={errors.sd_vae} onChange={(v) => set({ vae: v })}
        options={[['Automatic', 'Automatic'], ['None', 'None'], ...catalog.vaes.map((v) => [v.model_name, v.model_name] as const)]} />
      <SelectField id={`${idPrefix}sampler`} label="Sampling method" value={p.sampler} error={errors.sampler_name} onChange={(v) => set({ sampler: v })}
        options={catalog.samplers.map((s) => [s.name, s.name] as const)} />
      <SelectField id={`${idPrefix}scheduler`} label="Schedule type" value={p.scheduler} error={errors.scheduler} onChange={(v) => set({ scheduler: v })}
        options={[['', 'Automatic'], ...catalog.schedulers.filter((s) => s.name !== 'automatic').map((s) => [s.name, s.label] as const)]} />
      <NumberField id={`${idPrefix}steps`} label="Sampling steps" value={p.steps} min={1} max={150} error={errors.steps} onChange={(v) => set({ steps: v })} />
      <NumberField id={`${idPrefix}cfg`} label="CFG scale" value={p.cfg} min={1} max={30} step={0.5} error={errors.cfg_scale} onChange={(v) => set({ cfg: v })} />
      <NumberField id={`${idPrefix}width`} label="Width" value={p.width} min={64} max={2048} step={8} error={errors.width} onChange={(v) => set({ width: v })} />
      <NumberField id={`${idPrefix}height`} label="Height" value={p.height} min={64} max={2048} step={8} error={errors.height} onChange={(v) => set({ height: v })} />
      <div class="field wide">
        <span class="label" id={`${idPrefix}size-presets-label`}>Size presets</span>
        <div class="chips" role="group" aria-labelledby={`${idPrefix}size-presets-label`}>
          {SIZE_PRESETS.map(([w, h]) => (
            <button type="button" key={`${w}x${h}`} class={p.width === w && p.height === h ? 'chip on' : 'chip'} onClick={() => set({ width: w, height: h })}>{w}×{h}</button>
          ))}
          <button type="button" class="chip" aria-label="Swap width and height" title="Swap width and height" onClick={() => set({ width: p.height, height: p.width })}>⇅</button>
        </div>
      </div>
      <NumberField id={`${idPrefix}batch-count`} label="Batch count" value={p.batchCount} min={1} max={100} error={errors.n_iter} onChange={(v) => set({ batchCount: v })} />
      <NumberField id={`${idPrefix}batch-size`} label="Batch size" value={p.batchSize} min={1} max={8} error={errors.batch_size} onChange={(v) => set({ batchSize: v })} />
      <NumberField id={`${idPrefix}clip-skip`} label="Clip skip" value={p.clipSkip} min={1} max={12} error={errors.CLIP_stop_at_last_layers} onChange={(v) => set({ clipSkip: v })} />
      <div class="field wide"><Field id={`${idPrefix}seed`} label="Seed (-1: random)" error={errors.seed}>
        <div class="seed-row">
          <input id={`${idPrefix}seed`} type="number" value={p.seed} min={-1} readOnly={seedLocked} aria-invalid={errors.seed ? true : undefined}
            onInput={(e) => { const v = (e.currentTarget as HTMLInputElement).valueAsNumber; if (Number.isFinite(v)) set({ seed: v }) }} />
          <button type="button" aria-label="Random seed" title="Random seed (-1)" disabled={seedLocked} onClick={() => set({ seed: -1 })}>Random</button>
          <button type="button" aria-label="Reuse last seed" title="Reuse the last image's seed" disabled={seedLocked || lastSeed === undefined}
            onClick={() => lastSeed !== undefined && set({ seed: lastSeed })}>Reuse</button>
          <label class="inline"><input type="checkbox" checked={seedLocked} onChange={(e) => setSeedLocked((e.currentTarget as HTMLInputElement).checked)} /> Lock</label>
        </div>
      </Field></div>
      {idPrefix === '' && <HiresSection hires={p.hires} set={(patch) => set({ hires: { ...p.hires, ...patch } })} width={p.width} height={p.height} catalog={catalog} errors={errors} />}
      <RefinerSection refiner={p.refiner} set={(patch) => set({ refiner: { ...p.refiner, ...patch } })} catalog={catalog} errors={errors} idPrefix={idPrefix} />
    </div>
  )
}
