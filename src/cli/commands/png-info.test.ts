import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pngInfo } from './png-info.ts'
import { writePng } from '../../image/png.ts'
import { formatInfotext, type GenerationInfo } from '../../image/infotext.ts'
import { ref } from '../../../test/golden.ts'
import type { CommandContext } from '../command.ts'

const INFO: GenerationInfo = { prompt: 'a photo of a cat, (masterpiece:1.2)', negativePrompt: 'blurry, lowres', steps: 8,
  sampler: 'Euler a', cfgScale: 7, seed: 42, width: 4, height: 2, rng: 'CPU', version: 'sdloom 0.1.0' }
let dir: string
let withInfo: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-pnginfo-'))
  withInfo = join(dir, 'out.png')
  await writePng(withInfo, { width: 4, height: 2, data: new Uint8Array(24) }, { text: { parameters: formatInfotext(INFO), Software: 'sdloom' } })
})
after(() => rm(dir, { recursive: true, force: true }))

async function runCmd(positionals: string[], json = false): Promise<{ code: number; out: string }> {
  let out = ''
  const ctx: CommandContext = { values: {}, positionals, json, out: (t) => { out += `${t}\n` }, warn: () => undefined }
  return { code: await pngInfo.run(ctx), out }
}

test('prints the infotext as stored', async () => {
  assert.deepEqual(await runCmd([withInfo]), { code: 0, out: `${formatInfotext(INFO)}\n` })
})

test('--json prints the parsed fields', async () => {
  const { code, out } = await runCmd([withInfo], true)
  assert.equal(code, 0)
  const j = JSON.parse(out)
  assert.equal(j.parameters, formatInfotext(INFO))
  assert.equal(j.prompt, INFO.prompt)
  assert.equal(j.negativePrompt, INFO.negativePrompt)
  assert.deepEqual(j.fields, { Steps: '8', Sampler: 'Euler a', 'CFG scale': '7', Seed: '42', Size: '4x2', RNG: 'CPU', Version: 'sdloom 0.1.0' })
  assert.deepEqual(j.info, INFO)
  assert.deepEqual(j.otherText, { Software: 'sdloom' })
})

test('errors: no parameters chunk, missing file, wrong argument count', async () => {
  const golden = ref('sd1', 'goldens', 'sample.euler.64x64.png')
  await assert.rejects(runCmd([golden]), {
    name: 'InputError',
    message: `${golden}: no "parameters" text chunk, so no generation parameters (the file has no text chunks)`,
  })
  await assert.rejects(runCmd([join(dir, 'nope.png')]), { name: 'InputError', message: `${join(dir, 'nope.png')}: no such file` })
  await assert.rejects(runCmd([]), { name: 'InputError', message: 'png-info takes one FILE, got 0. See: sdloom png-info --help' })
})
