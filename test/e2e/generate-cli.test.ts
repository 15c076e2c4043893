/*
 * `sdloom generate` end to end: the issue's "Done when" command writes the reference PNG (±1 per channel) with an
 * infotext that parseInfotext reads back; --out naming and --json; errors are one line with a non-zero exit.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { parseInfotext } from '../../src/image/infotext.ts'
import { INFOTEXT_VERSION } from '../../src/image/infotext.ts'
import { readRefJson, ref } from '../golden.ts'
import { DONE_WHEN, TINY_SD1, errorLines, runSdloom } from './generate-cli.ts'
import { maxByteDiff } from './pipeline-goldens.ts'
import { SAMPLERS } from '../../src/sampling/index.ts'

let root: string
let env: NodeJS.ProcessEnv
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdloom-generate-'))
  env = { SDLOOM_CACHE: join(root, 'cache') }
})
after(async () => { await rm(root, { recursive: true, force: true }) })

const SHA256 = readRefJson<Record<string, { sha256: string }>>('sd1', 'files.json')['tiny-sd1.safetensors'].sha256

test('the "Done when" command writes sample.euler.64x64.png (±1) into DIR/00000-42.png with a readable infotext', async () => {
  const out = join(root, 'out')
  const r = await runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(await readdir(out), ['00000-42.png'])
  assert.equal(r.stdout, `${join(out, '00000-42.png')}\n`)
  const png = await readPng(join(out, '00000-42.png'))
  const golden = await readPng(ref('sd1', 'goldens', 'sample.euler.64x64.png'))
  assert.ok(maxByteDiff(png.data, golden.data) <= 1, 'PNG off by more than 1')
  const parsed = parseInfotext(png.text.parameters)
  assert.equal(parsed.prompt, 'a photo of a cat, (masterpiece:1.2), best quality')
  assert.equal(parsed.negativePrompt, 'blurry, lowres')
  assert.deepEqual(parsed.fields, {
    'Steps': '8', 'Sampler': 'Euler', 'Schedule type': 'Uniform', 'CFG scale': '7', 'Seed': '42', 'Size': '64x64',
    'Model hash': SHA256.slice(0, 10), 'Model': 'tiny-sd1', 'RNG': 'CPU', 'Version': INFOTEXT_VERSION,
  })
})

test('--out FILE.png with a batch of 2 and --json: FILE-1/-2.png, seeds 42 and 43, infotext per image', async () => {
  const file = join(root, 'named', 'cat.png')
  const r = await runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', file, '--batch-size', '2', '--steps', '2', '--clip-skip', '2', '--json'], env)
  assert.equal(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  assert.deepEqual(json.images.map((i: { file: string; seed: number }) => [i.file, i.seed]), [[join(root, 'named', 'cat-1.png'), 42], [join(root, 'named', 'cat-2.png'), 43]])
  assert.deepEqual(json.prediction, { value: 'eps', source: 'architecture', detail: 'SD1.x predicts eps' })
  for (const img of json.images) {
    const png = await readPng(img.file)
    assert.equal(png.text.parameters, img.infotext)
    const fields = parseInfotext(img.infotext).fields
    assert.equal(fields.Seed, String(img.seed))
    assert.equal(fields['Clip skip'], '2')
  }
})

test('errors: one line on stderr, non-zero exit, nothing written', async () => {
  const out = join(root, 'err')
  const cases: [string[], number, string][] = [
    [['--sampler', 'nope'], 2, `error: unknown sampler "nope". Valid: ${Object.values(SAMPLERS).map((e) => `"${e.label}"`).join(', ')} (A1111, `
      + `optionally followed by a schedule type as in "DPM++ 2M Karras"), or ComfyUI's ${Object.values(SAMPLERS).flatMap((e) => (e.comfy ? [e.comfy] : [])).join(', ')}.`],
    [['--width', '100'], 2, 'error: width must be a positive multiple of 8, got 100. Hint: the VAE works on 8×8 pixel blocks; try 96 or 104.'],
    [['--vae-tiling', 'maybe'], 2, 'error: --vae-tiling must be one of auto, on, off, got "maybe"'],
    [['--seed', '-2'], 2, 'error: seed must be -1 or a whole number >= 0, got -2'],
    [['--model', ref('sd1', 'adapters', 'tinylora.safetensors')], 1,
      'error: tinylora.safetensors: is a LoRA (SD1.x), not a checkpoint. Hint: pass it with --lora FILE and a checkpoint with --model.'],
  ]
  const results = await Promise.all(cases.map(([args]) => runSdloom([...DONE_WHEN, '--model', TINY_SD1, '--out', out, ...args], env)))
  results.forEach((r, i) => {
    assert.equal(r.code, cases[i][1], r.stderr)
    assert.deepEqual(errorLines(r.stderr), [cases[i][2]])
  })
  await assert.rejects(readdir(out), { code: 'ENOENT' })
})
