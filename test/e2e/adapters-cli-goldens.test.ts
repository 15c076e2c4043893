/*
 * `sdloom generate` with adapters, end to end: the sd1/adapters and sdxl/adapters `run.*` goldens from the CLI
 * (--loras / --lora FILE:W, --embeddings; PNG ±1 per channel), A1111's Lora hashes / TI hashes in the infotext,
 * and `sdloom inspect` of the written PNG listing both adapters.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { parseInfotext } from '../../src/image/infotext.ts'
import { hashFile } from '../../src/tools/hash.ts'
import { shortSha256 } from '../../src/pipeline/embeddings-db.ts'
import { TOKENIZER_DIR, ref, refTensors } from '../golden.ts'
import { errorLines, runSdloom } from './generate-cli.ts'
import { maxByteDiff } from './pipeline-goldens.ts'

const RUN = ['--sampler', 'Euler', '--steps', '8', '--cfg', '7', '--seed', '42', '--rng', 'cpu', '--width', '64', '--height', '64', '--tokenizer', TOKENIZER_DIR]

let root: string
let env: NodeJS.ProcessEnv
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdloom-adapters-cli-'))
  env = { SDLOOM_CACHE: join(root, 'cache') }
})
after(() => rm(root, { recursive: true, force: true }))

test('sd1: <lora:tinylora:0.7> from --loras + tinyneg from --embeddings give run.image_uint8 (±1); inspect lists both', async () => {
  const out = join(root, 'sd1')
  const r = await runSdloom(['generate', 'a photo of a cat, masterpiece <lora:tinylora:0.7>', '--negative', 'tinyneg, blurry', ...RUN,
    '--model', ref('sd1', 'tiny-sd1.safetensors'), '--loras', ref('sd1', 'adapters'), '--embeddings', ref('sd1', 'adapters', 'embeddings'), '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(errorLines(r.stderr).filter((l) => /^(error|warning):|^LoRA /.test(l)),
    ['LoRA tinylora (tinylora.safetensors): te 0.7, unet 0.7; patched 24 text-encoder and 256 UNet module(s)'])
  const file = join(out, '00000-42.png')
  const png = await readPng(file)
  const golden = await (await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')).readRaw('run.image_uint8')
  assert.ok(maxByteDiff(png.data, golden) <= 1, 'PNG off by more than 1')
  const loraHash = (await hashFile(ref('sd1', 'adapters', 'tinylora.safetensors'), ['autov3'], { cache: false })).autov3
  const tiHash = await shortSha256(ref('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'))
  const fields = parseInfotext(png.text.parameters).fields
  assert.deepEqual([fields['Lora hashes'], fields['TI hashes']], [`tinylora: ${loraHash}`, `tinyneg: ${tiHash}`])
  const i = await runSdloom(['inspect', file], env)
  assert.equal(i.code, 0, i.stderr)
  assert.match(i.stdout, new RegExp(`\\n  LoRAs       tinylora \\(${loraHash}\\)\\n  embeddings  tinyneg \\(${tiHash}\\)\\n$`))
})

test('sdxl: --lora tinyxl_lora.safetensors:0.7 + tinyxlemb in the negative give run.euler.64x64.png (±1)', async () => {
  const out = join(root, 'sdxl')
  const r = await runSdloom(['generate', 'a photo of a cat, masterpiece ', '--negative', 'tinyxlemb, blurry', ...RUN,
    '--model', ref('sdxl', 'tiny-sdxl-base.safetensors'), '--lora', `${ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')}:0.7`,
    '--embeddings', ref('sdxl', 'adapters', 'embeddings'), '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(errorLines(r.stderr).filter((l) => /^(error|warning):|^LoRA /.test(l)),
    ['LoRA tinyxl_lora (tinyxl_lora.safetensors): te 0.7, unet 0.7; patched 24 CLIP-L, 24 OpenCLIP bigG and 256 UNet module(s)'])
  const png = await readPng(join(out, '00000-42.png'))
  const golden = await readPng(ref('sdxl', 'adapters', 'run.euler.64x64.png'))
  assert.ok(maxByteDiff(png.data, golden.data) <= 1, 'PNG off by more than 1')
  const fields = parseInfotext(png.text.parameters).fields
  assert.equal(fields['TI hashes'], `tinyxlemb: ${await shortSha256(ref('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'))}`)
  assert.match(fields['Lora hashes'], /^tinyxl_lora: [0-9a-f]{12}$/)
})

test('sd1 --lora-mode bypass: the same run.image_uint8 (±1) and infotext, the LoRA reported as bypassed; a bad mode is an error', async () => {
  const out = join(root, 'sd1-bypass')
  const r = await runSdloom(['generate', 'a photo of a cat, masterpiece <lora:tinylora:0.7>', '--negative', 'tinyneg, blurry', ...RUN, '--lora-mode', 'bypass',
    '--model', ref('sd1', 'tiny-sd1.safetensors'), '--loras', ref('sd1', 'adapters'), '--embeddings', ref('sd1', 'adapters', 'embeddings'), '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(errorLines(r.stderr).filter((l) => /^(error|warning):|^LoRA /.test(l)),
    ['LoRA tinylora (tinylora.safetensors): te 0.7, unet 0.7; patched 24 text-encoder and 256 UNet module(s); 280 bypassed (low-rank branches), 0 merged'])
  const png = await readPng(join(out, '00000-42.png'))
  const golden = await (await refTensors('sd1', 'adapters', 'adapter_goldens.safetensors')).readRaw('run.image_uint8')
  assert.ok(maxByteDiff(png.data, golden) <= 1, 'PNG off by more than 1')
  const fields = parseInfotext(png.text.parameters).fields
  assert.match(fields['Lora hashes'], /^tinylora: [0-9a-f]{12}$/)
  const bad = await runSdloom(['generate', 'x', '--lora-mode', 'fast', '--model', ref('sd1', 'tiny-sd1.safetensors'), '--out', join(root, 'bad')], env)
  assert.equal(bad.code, 2)
  assert.deepEqual(errorLines(bad.stderr), ['error: --lora-mode must be one of merge, bypass, got "fast"'])
})
