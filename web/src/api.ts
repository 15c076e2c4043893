/**
 * The page's only way to the server: fetch over HTTP (the web part never imports src/). Server errors become an
 * ApiError whose message is the server's own sentence and whose `field` names the request field it is about, so
 * the page can show it next to that control.
 */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) { super(message) }
}

/** Request fields an SdError message may start with or name (txt2img-request.ts wording). */
const FIELD_PATTERNS: readonly [RegExp, string][] = [
  [/^init_images|init image/i, 'init_images'], [/^denoising_strength/, 'denoising_strength'],
  [/^width × height|^width\b|^height\b/, 'width'], [/^steps\b/, 'steps'], [/^batch_size\b/, 'batch_size'], [/^n_iter\b/, 'n_iter'],
  [/no checkpoint named|library has no checkpoint/, 'sd_model_checkpoint'], [/no vae named/i, 'sd_vae'],
  [/sampler/i, 'sampler_name'], [/schedule/i, 'scheduler'], [/no (lora|embedding) named|lora|prompt/i, 'prompt'],
  [/cfg/i, 'cfg_scale'], [/seed/i, 'seed'], [/clip/i, 'CLIP_stop_at_last_layers'],
]

export function fieldOfMessage(message: string): string | undefined {
  return FIELD_PATTERNS.find(([re]) => re.test(message))?.[1]
}

function toError(status: number, body: unknown, text: string): ApiError {
  const detail = (body as { detail?: unknown } | null)?.detail
  if (Array.isArray(detail)) {
    // FastAPI-style issues: [{ loc: ['body', field], msg }]
    const issues = detail as { loc?: unknown[]; msg?: string }[]
    const field = issues[0]?.loc?.[1]
    return new ApiError(status, issues.map((i) => `${(i.loc ?? []).slice(1).join('.')}: ${i.msg}`).join('; '), typeof field === 'string' ? field : undefined)
  }
  const message = typeof detail === 'string' ? detail : text || `HTTP ${status}`
  return new ApiError(status, message, fieldOfMessage(message))
}

export async function api<T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    ...(init.json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.json) }),
  })
  const text = await res.text()
  let body: unknown = null
  try { body = text === '' ? null : JSON.parse(text) } catch { /* not JSON: the text is the message */ }
  if (!res.ok) throw toError(res.status, body, text)
  return body as T
}

/** A Blob as base64 (for /sdapi/v1/png-info). */
export async function blobToBase64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer())
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
