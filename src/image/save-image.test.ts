import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readRefJson, refTensors } from '../../test/golden.ts'
import { decodePng, readPng } from './png.ts'
import { formatInfotext, INFOTEXT_VERSION, parseInfotext, type GenerationInfo } from './infotext.ts'
import { imagePngBytes, saveImagePng } from './save-image.ts'

test('a golden decoded image saves as the golden PNG pixels with its infotext', async () => {
  const g = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const key = 'sample.euler_ancestral.h96w64'
  const image = { shape: g.info(`${key}.image`).shape, data: await g.readF32(`${key}.image`) }
  // The settings the golden was made with.
  const e = readRefJson('sd1', 'goldens', 'sd1_goldens.json').samplers.entries.find((x: { key: string }) => x.key === key)
  const info: GenerationInfo = { prompt: e.prompt, negativePrompt: e.negative_prompt, steps: e.steps, sampler: 'Euler a',
    cfgScale: e.cfg_scale, seed: e.seed, width: e.width, height: e.height, rng: 'CPU', version: INFOTEXT_VERSION }
  const png = decodePng(imagePngBytes(image, { info }))
  assert.deepEqual(png.data, new Uint8Array(await g.readRaw(`${key}.image_uint8`)))
  assert.deepEqual([png.width, png.height], [64, 96])
  assert.equal(png.text.parameters, formatInfotext(info))
  assert.deepEqual(parseInfotext(png.text.parameters).info, info)
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-save-'))
  try {
    await saveImagePng(join(dir, 'x.png'), image)
    const back = await readPng(join(dir, 'x.png'))
    assert.deepEqual(back.data, png.data)
    assert.deepEqual(back.text, {})
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
