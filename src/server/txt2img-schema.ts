/**
 * The txt2img and img2img bodies as A1111 1.10.1 publishes them (a1111-api.md §3, defaults from its OpenAPI dump), as a JSON schema
 * that Fastify's Ajv validates with type coercion ("10" → 10) and defaults. Every field is nullable, as pydantic's
 * Optional; unknown fields pass through untouched (and are ignored), as pydantic v1 does. pydantic also truncates
 * floats sent for ints (aiyabot sends `hr_second_pass_steps: 20.0`, others 7.5 for steps), which Ajv refuses, so
 * `truncateIntegers` does that first.
 */
type Json = 'integer' | 'number' | 'string' | 'boolean' | 'object' | 'array'

const field = (type: Json, dflt?: unknown, extra: Record<string, unknown> = {}) =>
  ({ type: [type, 'null'], ...(dflt !== undefined ? { default: dflt } : {}), ...extra })

/** The fields both endpoints take (a1111-api.md §3, common part). */
export const COMMON_FIELDS = {
  prompt: field('string', ''),
  negative_prompt: field('string', ''),
  styles: field('array', undefined, { items: { type: 'string' } }),
  seed: field('integer', -1),
  subseed: field('integer', -1),
  subseed_strength: field('number', 0),
  seed_resize_from_h: field('integer', -1),
  seed_resize_from_w: field('integer', -1),
  sampler_name: field('string'),
  sampler_index: field('string', 'Euler'),
  scheduler: field('string'),
  batch_size: field('integer', 1),
  n_iter: field('integer', 1),
  steps: field('integer', 50),
  cfg_scale: field('number', 7),
  width: field('integer', 512),
  height: field('integer', 512),
  restore_faces: field('boolean'),
  tiling: field('boolean'),
  do_not_save_samples: field('boolean', false),
  do_not_save_grid: field('boolean', false),
  eta: field('number'),
  denoising_strength: field('number'),
  s_min_uncond: field('number'),
  s_churn: field('number'),
  s_tmax: field('number'),
  s_tmin: field('number'),
  s_noise: field('number'),
  override_settings: field('object'),
  override_settings_restore_afterwards: field('boolean', true),
  refiner_checkpoint: field('string'),
  refiner_switch_at: field('number'),
  disable_extra_networks: field('boolean', false),
  comments: field('object'),
  firstpass_image: field('string'),
  force_task_id: field('string'),
  script_name: field('string'),
  script_args: field('array', []),
  alwayson_scripts: field('object', {}),
  send_images: field('boolean', true),
  save_images: field('boolean', false),
  infotext: field('string'),
} as const

/** txt2img's own: hires fix (hr_cfg is Forge's "Hires CFG Scale"; A1111 1.10 ignores it as an unknown field). */
export const HIRES_FIELDS = {
  enable_hr: field('boolean', false),
  firstphase_width: field('integer', 0),
  firstphase_height: field('integer', 0),
  hr_scale: field('number', 2),
  hr_upscaler: field('string'),
  hr_second_pass_steps: field('integer', 0),
  hr_resize_x: field('integer', 0),
  hr_resize_y: field('integer', 0),
  hr_checkpoint_name: field('string'),
  hr_sampler_name: field('string'),
  hr_scheduler: field('string'),
  hr_prompt: field('string', ''),
  hr_negative_prompt: field('string', ''),
  hr_cfg: field('number'),
} as const

export const TXT2IMG_FIELDS = { ...COMMON_FIELDS, ...HIRES_FIELDS } as const

/**
 * img2img's own (a1111-api.md §4), with the API's defaults, which differ from the UI's: inpainting_fill 0 ("fill"),
 * inpaint_full_res true ("only masked") with padding 0.
 */
export const IMG2IMG_ONLY_FIELDS = {
  init_images: field('array', undefined, { items: { type: 'string' } }),
  resize_mode: field('integer', 0),
  image_cfg_scale: field('number'),
  mask: field('string'),
  mask_blur_x: field('integer', 4),
  mask_blur_y: field('integer', 4),
  mask_blur: field('integer'),
  mask_round: field('boolean', true),
  inpainting_fill: field('integer', 0),
  inpaint_full_res: field('boolean', true),
  inpaint_full_res_padding: field('integer', 0),
  inpainting_mask_invert: field('integer', 0),
  initial_noise_multiplier: field('number'),
  latent_mask: field('string'),
  include_init_images: field('boolean', false),
} as const

export const IMG2IMG_FIELDS = { ...COMMON_FIELDS, ...IMG2IMG_ONLY_FIELDS, denoising_strength: field('number', 0.75) } as const

export const IMG2IMG_SCHEMA = { type: 'object', properties: IMG2IMG_FIELDS } as const

/** The img2img fields without defaults: the jobs API's one schema takes both kinds, and txt2img bodies must not get them. */
const IMG2IMG_NO_DEFAULTS = Object.fromEntries(Object.entries(IMG2IMG_ONLY_FIELDS).map(([k, { default: _d, ...rest }]) => [k, rest]))

export const TXT2IMG_SCHEMA = { type: 'object', properties: TXT2IMG_FIELDS } as const

/** sdloom's jobs API takes the same body but keeps what it makes: save_images defaults to true there. */
export const NATIVE_JOB_SCHEMA = { type: 'object', properties: { ...TXT2IMG_FIELDS, ...IMG2IMG_NO_DEFAULTS, save_images: field('boolean', true) } } as const

/** The body after validation (defaults filled; null where the client sent null). */
export type Txt2ImgBody = { [K in keyof typeof TXT2IMG_FIELDS | keyof typeof IMG2IMG_ONLY_FIELDS]?: unknown } & {
  prompt: string | null; negative_prompt: string | null; styles?: string[] | null; seed: number | null
  subseed_strength: number | null; sampler_name?: string | null; sampler_index: string | null; scheduler?: string | null
  batch_size: number | null; n_iter: number | null; steps: number | null; cfg_scale: number | null; width: number | null; height: number | null
  denoising_strength?: number | null; override_settings?: Record<string, unknown> | null; enable_hr: boolean | null
  script_name?: string | null; alwayson_scripts: Record<string, unknown> | null; send_images: boolean | null; save_images: boolean | null
  disable_extra_networks: boolean | null
}

/** pydantic v1's int coercion for numbers: 20.0 → 20, 7.9 → 7 (int() truncates). Only top-level integer fields. */
export function truncateIntegers(body: unknown, fields: Readonly<Record<string, { type: readonly string[] }>> = { ...TXT2IMG_FIELDS, ...IMG2IMG_ONLY_FIELDS }): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return
  const b = body as Record<string, unknown>
  for (const [k, spec] of Object.entries(fields)) {
    const v = b[k]
    if (spec.type[0] === 'integer' && typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)) b[k] = Math.trunc(v)
  }
}
