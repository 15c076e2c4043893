/**
 * `inspectFile`: what a model file is, read from its header (plus LoRA alpha scalars). Never loads weights,
 * so a multi-GB checkpoint is inspected in milliseconds with memory independent of its size.
 */
import { open, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { TensorFileError, UnknownModelError } from '../core/errors.ts'
import { openTensorFile } from '../formats/open.ts'
import type { TensorSource } from '../formats/tensor-source.ts'
import { identifyModel, readLoraAlphas, type Identification } from '../models/detect/index.ts'

export type ModelReport = Identification & {
  readonly file: string
  readonly format: TensorSource['format']
  readonly fileSize: number
}

/** Content kinds that are certainly not model files, by magic bytes. */
const NOT_MODELS: readonly { readonly magic: readonly number[]; readonly what: string; readonly hint: string }[] = [
  { magic: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image', hint: '`sdloom png-info FILE` prints the generation parameters an sdloom/A1111 PNG carries' },
  { magic: [0xff, 0xd8, 0xff], what: 'a JPEG image', hint: 'reading generation parameters from images is not supported yet' },
  { magic: [0x52, 0x49, 0x46, 0x46], what: 'a RIFF/WebP file', hint: 'reading generation parameters from images is not supported yet' },
]

async function sniff(file: string): Promise<void> {
  const fh = await open(file, 'r').catch((e: Error) => { throw new TensorFileError(file, undefined, `cannot open: ${e.message}`) })
  try {
    const head = new Uint8Array(9)
    const { bytesRead } = await fh.read(head, 0, 9, 0)
    const bad = NOT_MODELS.find((n) => bytesRead >= n.magic.length && n.magic.every((b, i) => head[i] === b))
    if (bad) throw new UnknownModelError(file, `not a model file: it is ${bad.what}. Hint: ${bad.hint}`)
    const isGguf = head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46
    const isModel = (bytesRead === 9 && head[8] === 0x7b) || (head[0] === 0x50 && head[1] === 0x4b) || head[0] === 0x80 || isGguf
    if (!isModel) {
      const start = [...head.subarray(0, bytesRead)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
      throw new UnknownModelError(file, `not a model file: expected safetensors, a torch .ckpt/.pt zip, a torch pickle or GGUF; the file ${bytesRead === 0 ? 'is empty' : `starts with ${start}`}`)
    }
  } finally {
    await fh.close()
  }
}

export async function inspectFile(path: string): Promise<ModelReport> {
  const file = resolve(path)
  const st = await stat(file).catch((e: Error) => { throw new TensorFileError(file, undefined, `cannot read: ${e.message}`) })
  if (!st.isFile()) throw new TensorFileError(file, undefined, 'is not a regular file')
  await sniff(file)
  const source = await openTensorFile(file)
  try {
    const id = identifyModel(source)
    const base = { ...id, file, format: source.format, fileSize: st.size }
    if (base.kind !== 'lora') return base
    return { ...base, lora: { ...base.lora, alphas: await readLoraAlphas(source, base.structure) } }
  } finally {
    await source.close()
  }
}

/** The report as plain JSON data: the per-module LoRA structure is summarised, not listed. */
export function reportToJson(r: ModelReport): unknown {
  if (r.kind !== 'lora') return r
  const { structure: _modules, ...rest } = r
  return rest
}
