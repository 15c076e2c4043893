import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../core/errors.ts'
import { encodePng } from '../image/png.ts'
import { formatPngCard, inspectPng, isPngFile } from './inspect-png.ts'

/** An A1111 1.8 infotext (as its create_infotext writes it) with a LoRA call left in the prompt and both hash fields. */
const A1111 = 'a photo of a cat <lora:style:0.7>\nNegative prompt: easynegative, blurry\n'
  + 'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 8x4, Model hash: 6ce0161689, Model: v1-5, '
  + 'Lora hashes: "style: 0123456789ab", TI hashes: "easynegative: c74b4e810b03", Version: v1.8.0'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-inspect-png-')) })
after(() => rm(dir, { recursive: true, force: true }))

const image = (text?: Record<string, string>) => encodePng({ width: 8, height: 4, data: new Uint8Array(8 * 4 * 3) }, { text })

test('an A1111 PNG: infotext and the LoRAs / embeddings it used, with their hashes', async () => {
  const file = join(dir, 'a1111.png')
  await writeFile(file, image({ parameters: A1111 }))
  assert.equal(await isPngFile(file), true)
  const r = await inspectPng(file)
  assert.deepEqual([r.width, r.height, r.loras, r.embeddings], [8, 4, [{ name: 'style', hash: '0123456789ab' }], [{ name: 'easynegative', hash: 'c74b4e810b03' }]])
  assert.equal(formatPngCard(r), [
    'a1111.png',
    '  kind        PNG image 8x4 with generation parameters (v1.8.0)',
    '  prompt      a photo of a cat <lora:style:0.7>',
    '  negative    easynegative, blurry',
    '  parameters  Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 8x4, Model hash: 6ce0161689, Model: v1-5, Version: v1.8.0',
    '  LoRAs       style (0123456789ab)',
    '  embeddings  easynegative (c74b4e810b03)',
  ].join('\n'))
})

test('without hash fields the prompt\'s <lora:…> calls are listed; a PNG without parameters is a one-line error', async () => {
  const old = join(dir, 'old.png')
  await writeFile(old, image({ parameters: 'x <lora:a:1> <lyco:b:0.5>\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8x4' }))
  assert.deepEqual((await inspectPng(old)).loras, [{ name: 'a', hash: '' }, { name: 'b', hash: '' }])
  const bare = join(dir, 'bare.png')
  await writeFile(bare, image({ Software: 'paint' }))
  await assert.rejects(inspectPng(bare), new InputError('bare.png: a PNG image without a "parameters" text chunk, so no generation parameters or adapters '
    + 'to list (text chunks: "Software"). Hint: only images saved by sdloom or A1111 carry them.'))
  assert.equal(await isPngFile(join(dir, 'missing.png')), false)
})
