/*
 * ESRGAN-family upscalers in hires fix: found under an A1111 folder by A1111's names, run tiled, and checked against
 * the plain-JS RRDBNet of test/fixtures/tiny-esrgan.ts (the published architecture as float64 loops) through the same
 * A1111 tiling (itself checked against combine_grid's definition in src/image/upscale-tiles.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { referenceForward, tinyEsrgan, toOldLayout, writeEsrganPth, writeEsrganSafetensors, type TinyEsrganSpec } from '../fixtures/tiny-esrgan.ts'
import { upscale } from '../../src/cli/commands/upscale.ts'
import { InputError } from '../../src/core/errors.ts'
import type { HostTensor } from '../../src/core/host-tensor.ts'
import { resample } from '../../src/image/pil-resample.ts'
import { decodePng, writePng } from '../../src/image/png.ts'
import { readPngTexts } from '../../src/image/png-chunks.ts'
import { newRaster, pasteAt } from '../../src/image/raster.ts'
import { runCmd } from '../fixtures/run-command.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { upscaleWithModel, type TileOptions } from '../../src/image/upscale-tiles.ts'
import { txt2imgHires } from '../../src/pipeline/hires.ts'
import { findUpscalerModels, modelUpscaler } from '../../src/pipeline/model-upscalers.ts'
import { baseRequest, goldenBytes, modeEntries, modelFor } from './mode-goldens.ts'

const SPEC: TinyEsrganSpec = { features: 4, growth: 2, blocks: 1, upsamples: 2, unshuffle: 1, seed: 11 }
const NET = tinyEsrgan(SPEC)

const jsModel = async (t: HostTensor): Promise<HostTensor> => {
  const [, , h, w] = t.shape
  return { shape: [1, 3, h * 4, w * 4], data: Float32Array.from(referenceForward(NET, SPEC, { h, w, data: t.data })) }
}

async function a1111Root(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'webui-'))
  await mkdir(join(root, 'models', 'ESRGAN'), { recursive: true })
  await mkdir(join(root, 'models', 'RealESRGAN'), { recursive: true })
  await writeEsrganPth(join(root, 'models', 'RealESRGAN', 'RealESRGAN_x4plus.pth'), { params_ema: NET })
  await writeEsrganSafetensors(join(root, 'models', 'ESRGAN', '4x-Tiny.safetensors'), toOldLayout(NET, 2, 1))
  await writeEsrganSafetensors(join(root, 'models', 'ESRGAN', 'notes.txt'), NET)
  return root
}

const lanczos = modeEntries('hires').find((e) => e.inputs.hires_upscaler === 'Lanczos')!

test('ESRGAN upscalers: A1111 names from models/ESRGAN and models/RealESRGAN; tiled and whole runs match the JS RRDBNet within 1/255', async () => {
  const root = await a1111Root()
  try {
    const found = await findUpscalerModels(root)
    assert.deepEqual(found.map((m) => m.name), ['4x-Tiny', 'R-ESRGAN 4x+'])
    const picture = { width: 64, height: 64, channels: 3 as const, data: await goldenBytes('hires', lanczos, 'first.decoded_uint8') }
    for (const tiles of [{ tileSize: 80, tileOverlap: 8 }, { tileSize: 24, tileOverlap: 8 }, { tileSize: 0, tileOverlap: 0 }] satisfies TileOptions[]) {
      const expected = await upscaleWithModel(picture, jsModel, tiles)
      for (const m of found) {
        const up = modelUpscaler(m, { ...tiles, threads: 1 })
        const got = await up.step(picture, 2)
        await up.release()
        assert.equal(got.width, 256)
        let worst = 0
        for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]))
        assert.ok(worst <= 1, `${m.name}, tile ${tiles.tileSize}: off by ${worst}`)
      }
    }
  } finally { await rm(root, { recursive: true, force: true }) }
})

test('hires fix with "R-ESRGAN 4x+": 64 → 128 through the network, named in the infotext', async () => {
  const root = await a1111Root()
  try {
    const model = await modelFor(lanczos)
    const upscalers = (await findUpscalerModels(root)).map((m) => modelUpscaler(m, { threads: 1 }))
    const hires = { scale: 2, upscaler: 'R-ESRGAN 4x+', steps: 2, denoisingStrength: 0.5 }
    const [img] = await txt2imgHires(model, { ...baseRequest(lanczos), steps: 2, hires, upscalers })
    assert.deepEqual(img.image.shape, [1, 3, 128, 128])
    assert.match(formatInfotext(img.info), /Hires upscale: 2, Hires steps: 2, Hires upscaler: R-ESRGAN 4x\+,/)
  } finally { await rm(root, { recursive: true, force: true }) }
})

test('sdloom upscale: --upscaler-model runs the network (4x, then LANCZOS to "Upscale by" 2); Lanczos equals PIL LANCZOS; postprocessing text', async () => {
  const root = await a1111Root()
  try {
    const input = join(root, 'in.png')
    const picture = newRaster(20, 16, 3)
    for (let i = 0; i < picture.data.length; i++) picture.data[i] = (i * 53) & 255
    await writePng(input, picture)
    const model = join(root, 'models', 'ESRGAN', '4x-Tiny.safetensors')
    const out = join(root, 'out.png')
    const r = await runCmd(upscale, [input], { 'upscaler-model': model, 'scale': '2', 'out': out, 'upscaler-tile': '0' }, true)
    assert.equal(r.code, 0)
    assert.deepEqual(JSON.parse(r.out), { file: out, width: 40, height: 32, upscaler: '4x-Tiny', scale: 2, postprocessing: 'Postprocess upscale by: 2, Postprocess upscaler: 4x-Tiny' })
    const png = await readFile(out)
    assert.deepEqual(readPngTexts(png, out), [{ chunk: 'tEXt', keyword: 'postprocessing', text: 'Postprocess upscale by: 2, Postprocess upscaler: 4x-Tiny' }])
    const expected = resample(await upscaleWithModel(picture, jsModel, { tileSize: 0, tileOverlap: 0 }), 40, 32, 'lanczos')
    const got = decodePng(png, out)
    let worst = 0
    for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]))
    assert.ok(worst <= 2, `4x-Tiny then LANCZOS: off by ${worst}`)
    // "Upscale to" 50x40: by 2.5 → the Lanczos step gives 50x40, rounded down to 48x40, pasted centred at (1, 0)
    await runCmd(upscale, [input], { 'upscaler': 'Lanczos', 'resize': '50x40', 'out': out })
    const canvas = newRaster(50, 40, 3)
    pasteAt(canvas, resample(resample(picture, 50, 40, 'lanczos'), 48, 40, 'lanczos'), 1, 0)
    assert.deepEqual(decodePng(await readFile(out), out).data, canvas.data)
    await assert.rejects(runCmd(upscale, [input], { 'upscaler': 'R-ESRGAN 4x+', 'out': out }),
      new InputError('unknown upscaler "R-ESRGAN 4x+". Hint: one of Lanczos, Nearest or a "Latent …" upscaler.'))
  } finally { await rm(root, { recursive: true, force: true }) }
})
