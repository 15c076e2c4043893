/**
 * A1111's prompt styles: `styles.csv` in the data folder (columns name, prompt, negative_prompt; RFC 4180 quoting),
 * merged into prompts as modules/styles.py does: a style with `{prompt}` wraps the prompt, any other is appended
 * after ", ".
 */
import { readFile } from 'node:fs/promises'
import { InputError } from '../core/errors.ts'

export interface PromptStyle {
  readonly name: string
  readonly prompt: string
  readonly negative_prompt: string
}

/** RFC 4180 rows: quoted fields may hold commas, newlines and doubled quotes. */
function csvRows(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(cell); cell = '' }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(cell); rows.push(row); row = []; cell = ''
    } else cell += c
  }
  if (cell !== '' || row.length > 0) { row.push(cell); rows.push(row) }
  return rows.filter((r) => r.some((c) => c.trim() !== ''))
}

/** Reads styles.csv; absent → no styles. */
export async function readStyles(file: string): Promise<PromptStyle[]> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const [header, ...rows] = csvRows(text.replace(/^\uFEFF/, ''))
  const col = (n: string): number => header?.indexOf(n) ?? -1
  const [iName, iPrompt, iNeg] = [col('name'), col('prompt'), col('negative_prompt')]
  if (iName < 0) throw new InputError('styles.csv: the first row must name the columns (name, prompt, negative_prompt)')
  return rows.map((r) => ({ name: r[iName] ?? '', prompt: iPrompt >= 0 ? r[iPrompt] ?? '' : '', negative_prompt: iNeg >= 0 ? r[iNeg] ?? '' : '' }))
}

const merge = (prompt: string, style: string): string =>
  style.includes('{prompt}') ? style.replace('{prompt}', prompt) : [prompt.trim(), style.trim()].filter((s) => s !== '').join(', ')

/** Applies the named styles in order; an unknown name is an error listing the known ones. */
export function applyStyles(prompt: string, negative: string, names: readonly string[], styles: readonly PromptStyle[]): { prompt: string; negativePrompt: string } {
  let p = prompt
  let n = negative
  for (const name of names) {
    const s = styles.find((x) => x.name === name)
    if (!s) throw new InputError(`style "${name}" is not in styles.csv; known: ${styles.map((x) => `"${x.name}"`).join(', ') || 'none'}`)
    p = merge(p, s.prompt)
    n = merge(n, s.negative_prompt)
  }
  return { prompt: p, negativePrompt: n }
}
