/*
 * `sdloom generate --decoder taesd --preview FILE`: the final image is TAESD's decode of the sampler's latent (the
 * "Done when" run's golden latent, decoded here independently), the preview file is a PNG written during sampling,
 * and --decoder taesd without a decoder file is a one-line error.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { TaesdDecoder } from '../../src/models/taesd/index.ts'
import { ref, refTensors } from '../golden.ts'
import { DONE_WHEN, TINY_SD1, errorLines, runSdloom } from './generate-cli.ts'
import { maxByteDiff } from './pipeline-goldens.ts'

let root: string
let env: NodeJS.ProcessEnv
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdloom-taesd-'))
  env = { SDLOOM_CACHE: join(root, 'cache') }
})
after(async () => { await rm(root, { recursive: true, force: true }) })

test('--decoder taesd decodes the final latent with TAESD; --preview writes a PNG during sampling', async () => {
  const out = join(root, 'out')
  const preview = join(root, 'preview.png')
  const taesd = ref('taesd', 'taesd_decoder.pth')
  const r = await runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', out, '--decoder', 'taesd', '--taesd', taesd, '--preview', preview, '--preview-every', '4'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await readdir(out), ['00000-42.png'])
  const goldens = await refTensors('sd1', 'goldens', 'sd1_goldens.safetensors')
  const latent = { shape: [1, 4, 8, 8], data: await goldens.readF32('sample.euler.64x64.latent') }
  const dec = await TaesdDecoder.load(taesd)
  const expected = imageToUint8(await dec.decode(latent))
  await dec.release()
  const png = await readPng(join(out, '00000-42.png'))
  assert.deepEqual([png.width, png.height], [64, 64])
  assert.ok(maxByteDiff(png.data, expected.data) <= 1, 'final PNG is not TAESD(latent) within 1')
  const p = await readPng(preview)
  assert.deepEqual([p.width, p.height], [64, 64])
  assert.deepEqual((await readdir(root)).filter((f) => f.includes('preview') && f !== 'preview.png'), [], 'no temp file left')
})

test('--decoder taesd with no decoder file is a one-line error naming where it looked', async () => {
  const r = await runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', join(root, 'none'), '--decoder', 'taesd'], env)
  assert.equal(r.code, 2)
  const lines = errorLines(r.stderr)                  // the model-loading summary line, then the error
  assert.match(lines[lines.length - 1], /^error: --decoder taesd: no taesd_decoder file in models\/VAE-approx or models\/vae_approx \(looked under .*\)\. Hint: download it from madebyollin\/taesd or give --taesd FILE\./)
})
