import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref, readRefJson } from '../../test/golden.ts'
import { writeTorchCkpt } from '../../test/fixtures/torch-pickle-writer.ts'
import { emaKeyFor } from '../../test/fixtures/tiny-files.ts'
import { inspectFile, reportToJson } from './inspect.ts'
import { formatCard } from './inspect-card.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-inspect-')) })
after(() => rm(dir, { recursive: true, force: true }))

const zeros = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })

test('every reference model file, safetensors and pickle', async () => {
  const expected = [
    [['sd1', 'tiny-sd1.safetensors'], 'checkpoint', 'sd1'],
    [['sd1', 'tiny-sd1.ckpt'], 'checkpoint', 'sd1'],
    [['sd2', 'tiny-sd2-v.safetensors'], 'checkpoint', 'sd2'],
    [['sdxl', 'tiny-sdxl-base.safetensors'], 'checkpoint', 'sdxl-base'],
    [['sd1', 'adapters', 'tinylora.safetensors'], 'lora', 'sd1'],
    [['sd1', 'adapters', 'tinyloha.safetensors'], 'lora', 'sd1|sd2'],
    [['sd1', 'adapters', 'tinylokr.safetensors'], 'lora', 'sd1'],
    [['sd1', 'adapters', 'embeddings', 'tinyemb.pt'], 'embedding', 'unknown'],
    [['sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'], 'embedding', 'unknown'],
    [['sdxl', 'adapters', 'tinyxl_lora.safetensors'], 'lora', 'sdxl-base'],
    [['sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'], 'embedding', 'sdxl'],
  ] as const
  for (const [path, kind, arch] of expected) {
    const r = await inspectFile(ref(...path))
    assert.deepEqual([r.kind, r.architecture.id, r.fileSize], [kind, arch, (await stat(ref(...path))).size], path.join('/'))
  }
  const files = readRefJson('sd1', 'files.json')
  const ckpt = await inspectFile(ref('sd1', 'tiny-sd1.ckpt'))
  assert.deepEqual([ckpt.format, ckpt.fileSize], ['pickle', files['tiny-sd1.ckpt'].bytes])
  assert.deepEqual(ckpt.summary.dtypes.map((d) => d.dtype), ['F16', 'F32', 'I64'])
})

test('A1111 .pt embedding: format, vectors and its fields', async () => {
  const r = await inspectFile(ref('sd1', 'adapters', 'embeddings', 'tinyemb.pt'))
  assert.ok(r.kind === 'embedding')
  assert.deepEqual([r.embedding.format, r.embedding.vectorCount, r.embedding.vectors[0].dim.value], ['a1111-pt', 2, 32])
  assert.deepEqual([r.metadata.other.name, r.metadata.other.step], ['tinyemb', '100'])
})

test('pickle fixtures: diffusers .bin embedding, SD1.5-width .pt, checkpoint with EMA', async () => {
  const bin = join(dir, 'learned_embeds.bin')
  await writeTorchCkpt(bin, { '<cat-toy>': zeros([768]) })
  const d = await inspectFile(bin)
  assert.ok(d.kind === 'embedding')
  assert.deepEqual([d.embedding.format, d.embedding.vectorCount, d.embedding.compatible], ['diffusers', 1, ['sd1']])
  const pt = join(dir, 'wide.pt')
  await writeTorchCkpt(pt, { string_to_token: { '*': 265 }, string_to_param: { '*': zeros([3, 1024]) }, name: 'wide', step: 5 })
  const p = await inspectFile(pt)
  assert.ok(p.kind === 'embedding')
  assert.deepEqual([p.embedding.format, p.embedding.vectorCount, p.architecture.label], ['a1111-pt', 3, 'SD2.x'])
  const ckpt = join(dir, 'ema.ckpt')
  const key = 'model.diffusion_model.input_blocks.0.0.weight'
  await writeTorchCkpt(ckpt, { state_dict: { [key]: zeros([8, 4, 3, 3]), [emaKeyFor(key)]: zeros([8, 4, 3, 3]) } })
  const e = await inspectFile(ckpt)
  assert.deepEqual([e.summary.ema.present, e.summary.ema.tensors], [true, 1])
})

test('non-model files: one clear error each', async () => {
  await assert.rejects(inspectFile(ref('sdxl', 'goldens', 'sample.euler.64x64.png')), {
    name: 'UnknownModelError',
    message: 'sample.euler.64x64.png: not a model file: it is a PNG image. Hint: `sdloom png-info FILE` prints the generation parameters an sdloom/A1111 PNG carries',
  })
  const txt = join(dir, 'notes.txt')
  await writeFile(txt, 'hello world')
  await assert.rejects(inspectFile(txt), {
    name: 'UnknownModelError',
    message: 'notes.txt: not a model file: expected safetensors, a torch .ckpt/.pt zip, a torch pickle or GGUF; the file starts with 68 65 6c 6c 6f 20 77 6f 72',
  })
  const empty = join(dir, 'empty.safetensors')
  await writeFile(empty, '')
  await assert.rejects(inspectFile(empty), { name: 'UnknownModelError', message: /the file is empty$/ })
  await assert.rejects(inspectFile(dir), { name: 'TensorFileError', message: /: is not a regular file$/ })
})

test('JSON drops the per-module list; the card names kind, architecture and widths', async () => {
  const lora = await inspectFile(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const json = reportToJson(lora) as Record<string, unknown>
  assert.equal('structure' in json, false)
  assert.deepEqual((json.lora as { alphas: unknown }).alphas, [{ value: 2, count: 280 }])
  const card = formatCard(await inspectFile(ref('sd1', 'tiny-sd1.safetensors'))).split('\n')
  assert.equal(card[0], 'tiny-sd1.safetensors')
  assert.equal(card[1], '  kind          checkpoint')
  assert.equal(card[2], '  architecture  SD1.x')
  assert.ok(card.includes('  UNet          ldm layout under model.diffusion_model.; in 4 / out 4 channels; model channels 32; levels [32, 64, 96, 96]; '
    + 'transformer depth [1, 1, 1, 0] + middle 1; context 32; conv proj_in'), card.join('\n'))
  assert.ok(card.includes('  text encoder  CLIP ViT-L/14 (SD1.x): width 32, 4 layers [cond_stage_model.transformer.text_model.]'))
})
