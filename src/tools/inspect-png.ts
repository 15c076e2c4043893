/**
 * `sdloom inspect` of an image made by sdloom or A1111: its infotext (the PNG's `parameters` text chunk) and the
 * adapters it names: `Lora hashes` (LoRA name: AutoV3) and `TI hashes` (embedding name: first 12 hex of its SHA-256),
 * plus `<lora:NAME:…>` calls still in the prompt (A1111 keeps them in the infotext) for files without hash fields.
 */
import { open, readFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { InputError } from '../core/errors.ts'
import { parseInfotext, type NetworkHash, type ParsedInfotext } from '../image/infotext.ts'
import { PNG_SIGNATURE, readPngChunks, readPngTexts } from '../image/png-chunks.ts'
import { parseExtraNetworks } from '../prompt/index.ts'

export interface PngReport {
  readonly kind: 'png-image'
  readonly file: string
  readonly width: number
  readonly height: number
  /** The infotext as stored. */
  readonly parameters: string
  readonly infotext: ParsedInfotext
  /** From `Lora hashes`, else from the prompt's `<lora:…>` / `<lyco:…>` calls (hash ''). */
  readonly loras: readonly NetworkHash[]
  readonly embeddings: readonly NetworkHash[]
}

/** True when the file starts with the PNG signature. */
export async function isPngFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined)
  if (!fh) return false
  try {
    const head = new Uint8Array(8)
    const { bytesRead } = await fh.read(head, 0, 8, 0)
    return bytesRead === 8 && PNG_SIGNATURE.every((b, i) => head[i] === b)
  } finally {
    await fh.close()
  }
}

export async function inspectPng(path: string): Promise<PngReport> {
  const file = resolve(path)
  const bytes = await readFile(file)
  const ihdr = readPngChunks(bytes, file)[0].data
  const view = new DataView(ihdr.buffer, ihdr.byteOffset, ihdr.byteLength)
  const texts = readPngTexts(bytes, file)
  const params = texts.find((t) => t.keyword === 'parameters')
  if (!params) {
    throw new InputError(`${basename(file)}: a PNG image without a "parameters" text chunk, so no generation parameters or adapters to list `
      + `(${texts.length ? `text chunks: ${texts.map((t) => `"${t.keyword}"`).join(', ')}` : 'no text chunks'}). Hint: only images saved by sdloom or A1111 carry them.`)
  }
  const infotext = parseInfotext(params.text)
  const fromPrompt = parseExtraNetworks(infotext.prompt).loras.map((l) => ({ name: l.name, hash: '' }))
  return {
    kind: 'png-image', file, width: view.getUint32(0), height: view.getUint32(4), parameters: params.text, infotext,
    loras: infotext.info.loraHashes ?? fromPrompt,
    embeddings: infotext.info.tiHashes ?? [],
  }
}

const listOf = (list: readonly NetworkHash[]): string =>
  list.length === 0 ? 'none' : list.map((n) => (n.hash ? `${n.name} (${n.hash})` : n.name)).join(', ')

export function formatPngCard(r: PngReport): string {
  const f = r.infotext.fields
  const rows: [string, string][] = [
    ['kind', `PNG image ${r.width}x${r.height} with generation parameters${f.Version ? ` (${f.Version})` : ''}`],
    ['prompt', r.infotext.prompt],
    ['negative', r.infotext.negativePrompt || '(none)'],
    ['parameters', Object.entries(f).filter(([k]) => k !== 'Lora hashes' && k !== 'TI hashes').map(([k, v]) => `${k}: ${v}`).join(', ')],
    ['LoRAs', listOf(r.loras)],
    ['embeddings', listOf(r.embeddings)],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return [basename(r.file), ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v.replace(/\n/g, `\n  ${' '.repeat(width)}  `)}`)].join('\n')
}
