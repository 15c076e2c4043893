/**
 * A1111 1.8+'s `infotext` request field (api.py apply_infotext): the text is parsed as A1111 parses infotexts and
 * fills every field the client did not send itself (a field sent, even as null, wins), through the paste table of
 * infotext_utils (the `api` names of its paste fields); settings named in the text (Clip skip, ENSD, RNG, Eta…)
 * go to override_settings unless the client's override_settings has them. Runs before schema defaults are filled,
 * so "sent" means present in the body.
 */
import { parseInfotext } from '../image/infotext.ts'

type Convert = (v: string) => unknown
const number: Convert = (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined)
const text: Convert = (v) => v
/** "WxH" → one side (A1111's Size-1 / Size-2). */
const side = (i: 1 | 2): Convert => (v) => number(/^(\d+)x(\d+)$/.exec(v.trim())?.[i] ?? '')

/** Infotext key → body field (infotext_utils paste fields, txt2img and img2img). */
const FIELDS: readonly [string, string, Convert][] = [
  ['Steps', 'steps', number], ['Sampler', 'sampler_name', text], ['Schedule type', 'scheduler', text], ['CFG scale', 'cfg_scale', number],
  ['Seed', 'seed', number], ['Size', 'width', side(1)], ['Size', 'height', side(2)],
  ['Variation seed', 'subseed', number], ['Variation seed strength', 'subseed_strength', number],
  ['Seed resize from', 'seed_resize_from_w', side(1)], ['Seed resize from', 'seed_resize_from_h', side(2)],
  ['Denoising strength', 'denoising_strength', number],
  ['Hires upscale', 'hr_scale', number], ['Hires upscaler', 'hr_upscaler', text], ['Hires steps', 'hr_second_pass_steps', number],
  ['Hires resize', 'hr_resize_x', side(1)], ['Hires resize', 'hr_resize_y', side(2)], ['Hires sampler', 'hr_sampler_name', text],
  ['Hires schedule type', 'hr_scheduler', text], ['Hires prompt', 'hr_prompt', text], ['Hires negative prompt', 'hr_negative_prompt', text],
  ['Hires CFG Scale', 'hr_cfg', number], ['Hires checkpoint', 'hr_checkpoint_name', text], ['Refiner', 'refiner_checkpoint', text], ['Refiner switch at', 'refiner_switch_at', number],
  ['Mask blur', 'mask_blur', number], ['Masked area padding', 'inpaint_full_res_padding', number],
  ['Sigma churn', 's_churn', number], ['Sigma tmin', 's_tmin', number], ['Sigma tmax', 's_tmax', number], ['Sigma noise', 's_noise', number],
  ['NGMS', 's_min_uncond', number],
]

/** Infotext key → setting (infotext_utils.infotext_to_setting_name_mapping, the ones sdloom reads). */
const SETTINGS: readonly [string, string, Convert][] = [
  ['Clip skip', 'CLIP_stop_at_last_layers', number], ['ENSD', 'eta_noise_seed_delta', number], ['RNG', 'randn_source', text],
  ['Eta', 'eta_ancestral', number], ['Eta DDIM', 'eta_ddim', number], ['Schedule min sigma', 'sigma_min', number],
  ['Schedule max sigma', 'sigma_max', number], ['Schedule rho', 'rho', number], ['Skip Early CFG', 'skip_early_cond', number],
]

/** Fills `body` (a parsed JSON object, before validation) from its `infotext`; anything else is left alone. */
export function applyInfotext(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return
  const b = body as Record<string, unknown>
  if (typeof b.infotext !== 'string' || b.infotext.trim() === '') return
  const parsed = parseInfotext(b.infotext)
  const f = parsed.fields
  const fill = (key: string, value: unknown): void => { if (!(key in b) && value !== undefined) b[key] = value }
  fill('prompt', parsed.prompt)
  fill('negative_prompt', parsed.negativePrompt)
  for (const [name, key, convert] of FIELDS) if (f[name] !== undefined) fill(key, convert(f[name]))
  // A1111's paste: hires fix is on when the text has a denoising strength and a hires size or upscaler
  if ('Denoising strength' in f && ('Hires upscale' in f || 'Hires upscaler' in f || 'Hires resize' in f)) fill('enable_hr', true)
  const given = (typeof b.override_settings === 'object' && b.override_settings !== null ? b.override_settings : {}) as Record<string, unknown>
  const settings: Record<string, unknown> = {}
  for (const [name, key, convert] of SETTINGS) {
    const v = f[name] === undefined ? undefined : convert(f[name])
    if (v !== undefined && !(key in given)) settings[key] = v
  }
  if (Object.keys(settings).length > 0) b.override_settings = { ...settings, ...given }
}
