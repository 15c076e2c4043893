/**
 * Files beside a model `X.<ext>` that describe it (ui-and-clients.md §4.3): a preview image (A1111 looks for
 * `X.<img>` then `X.preview.<img>`), A1111's user metadata `X.json` (description, notes, "activation text",
 * "preferred weight", "sd version", checkpoint "vae") and Civitai Helper's `X.civitai.info` (the Civitai
 * model-version JSON: trainedWords, baseModel, model.name). A sidecar that does not parse is reported in
 * `errors`, never fatal to the model's row.
 */
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'

const PREVIEW_EXTS = ['.png', '.jpg', '.jpeg', '.webp', '.gif']

export interface Sidecars {
  /** File name (in the model's folder) of the preview image. */
  readonly preview?: string
  readonly userMetadata?: Readonly<Record<string, unknown>>
  readonly civitai?: { readonly modelName?: string; readonly versionName?: string; readonly baseModel?: string; readonly trainedWords: readonly string[] }
  /** "X.json: not valid JSON (…)". */
  readonly errors: readonly string[]
}

/** The sidecar file names of `stem` present in a folder listing (what decides whether they must be re-read). */
export function sidecarNames(stem: string, names: ReadonlySet<string>): string[] {
  const wanted = [`${stem}.json`, `${stem}.civitai.info`, ...PREVIEW_EXTS.flatMap((e) => [`${stem}${e}`, `${stem}.preview${e}`])]
  return wanted.filter((n) => names.has(n))
}

async function readJson(dir: string, name: string, errors: string[]): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await readFile(join(dir, name), 'utf8')) as unknown
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>
    errors.push(`${name}: expected a JSON object`)
  } catch (e) {
    errors.push(`${name}: ${e instanceof SyntaxError ? `not valid JSON (${e.message})` : 'cannot be read'}`)
  }
  return undefined
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

function civitaiSummary(j: Record<string, unknown>): NonNullable<Sidecars['civitai']> {
  const model = typeof j.model === 'object' && j.model !== null ? j.model as Record<string, unknown> : {}
  const words = Array.isArray(j.trainedWords) ? j.trainedWords.filter((w): w is string => typeof w === 'string' && w.trim() !== '') : []
  return { modelName: str(model.name), versionName: str(j.name), baseModel: str(j.baseModel), trainedWords: words.map((w) => w.trim()) }
}

/** Reads the sidecars of `file` whose names are in `present` (from sidecarNames). */
export async function readSidecars(file: string, present: readonly string[]): Promise<Sidecars> {
  const dir = join(file, '..')
  const stem = stemOf(basename(file))
  const errors: string[] = []
  const has = (n: string): boolean => present.includes(n)
  const preview = PREVIEW_EXTS.map((e) => `${stem}${e}`).find(has) ?? PREVIEW_EXTS.map((e) => `${stem}.preview${e}`).find(has)
  const userMetadata = has(`${stem}.json`) ? await readJson(dir, `${stem}.json`, errors) : undefined
  const civ = has(`${stem}.civitai.info`) ? await readJson(dir, `${stem}.civitai.info`, errors) : undefined
  return {
    ...(preview ? { preview } : {}), ...(userMetadata ? { userMetadata } : {}), ...(civ ? { civitai: civitaiSummary(civ) } : {}), errors,
  }
}

/** `name.safetensors` → `name` (A1111's network/checkpoint name is the file name without its extension). */
export const stemOf = (name: string): string => name.replace(/\.[^.]+$/, '')

/** Trigger words: A1111's "activation text" first (what the user chose), then Civitai's trainedWords. */
export function triggerWords(s: Sidecars): string[] {
  const activation = str(s.userMetadata?.['activation text'])
  const words = [...(activation ? [activation] : []), ...(s.civitai?.trainedWords ?? [])]
  return [...new Set(words)]
}
