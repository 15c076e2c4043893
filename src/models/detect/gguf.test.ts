import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../../test/golden.ts'
import { writeGguf, type GgufFixtureTensor } from '../../../test/fixtures/gguf-writer.ts'
import { openTensorFile } from '../../formats/open.ts'
import { WeightStore } from '../weights.ts'
import { identifyModel } from './index.ts'

const dir = mkdtempSync(join(tmpdir(), 'sdloom-gguf-detect-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('a GGUF conversion of the tiny SD1 checkpoint (Q8_0 matrices, F16 rest, as sd.cpp writes) is identified and loads', async () => {
  const original = await openTensorFile(ref('sd1', 'tiny-sd1.safetensors'))
  const tensors: GgufFixtureTensor[] = []
  for (const name of original.keys()) {
    const { shape } = original.info(name)
    const quantizable = shape.length >= 2 && shape[shape.length - 1] % 32 === 0
    tensors.push({ name, shape, type: quantizable ? 'Q8_0' : 'F16', data: await original.readF32(name) })
  }
  const file = join(dir, 'tiny-sd1-q8_0.gguf')
  await writeGguf(file, tensors, { 'general.architecture': 'stable-diffusion' })
  const gguf = await openTensorFile(file)
  try {
    const id = identifyModel(gguf)
    assert.equal(id.kind, 'checkpoint')
    assert.equal(id.architecture.id, 'sd1')
    const store = await WeightStore.load(gguf, { prefixes: ['model.diffusion_model.input_blocks.1.'] })
    const key = 'model.diffusion_model.input_blocks.1.1.proj_in.weight'
    const a = store.get(key)
    const b = await original.readF32(key)
    const amax = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= amax / 127, `${key}[${i}]`)
  } finally {
    await gguf.close()
    await original.close()
  }
})
