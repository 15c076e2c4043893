/*
 * A request with another VAE on a loaded model switches only the VAE (A1111's sd_vae): the checkpoint loads once, the
 * images equal a fresh load with that VAE, and going back to the checkpoint's own VAE gives the first image again.
 * The other VAE is tiny-sd1's own (lowvar-vae's decoder is bit-identical to it) with its decoder's output bias moved,
 * so every image it decodes differs.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTensorFile } from '../../src/formats/open.ts'
import { encodeF32As, writeSafetensors, type WriteTensor } from '../../src/formats/safetensors-writer.ts'
import { Engine } from '../../src/engine/engine.ts'
import { fileResolver } from '../../src/engine/file-resolver.ts'
import type { EngineEvent, GenerationRequest } from '../../src/engine/contract.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'

const SD1 = ref('sd1', 'tiny-sd1.safetensors')
let dir = ''
let VAE = ''

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdloom-vae-'))
  VAE = join(dir, 'shifted-vae.safetensors')
  const source = await openTensorFile(ref('sd1', 'lowvar-vae.safetensors'))
  const tensors: WriteTensor[] = []
  for (const name of source.keys()) {
    const data = await source.readF32(name)
    if (name === 'decoder.conv_out.bias') data[0] += 0.5
    tensors.push({ name, dtype: 'F32', shape: source.info(name).shape, data: encodeF32As('F32', data) })
  }
  await source.close()
  await writeSafetensors(VAE, tensors)
})
after(() => rm(dir, { recursive: true, force: true }))
const REQ: GenerationRequest = { mode: 'txt2img', model: SD1, prompt: 'a lighthouse', steps: 2, seed: 11, rng: 'cpu', width: 64, height: 64, sampler: 'Euler' }

function countingEngine(): { engine: Engine; loads: string[] } {
  const loads: string[] = []
  const engine = new Engine({
    resolver: fileResolver(), tokenizerDir: TOKENIZER_DIR, hashCache: false,
    loader: (spec, opts) => { loads.push(`${spec.file} vae=${spec.vae ?? 'none'}`); return loadModel(spec.file, { vae: spec.vae, ...opts, threads: 1 }) },
  })
  return { engine, loads }
}

test('another VAE on a loaded model is switched without a reload; images equal a fresh load with that VAE', async () => {
  const { engine, loads } = countingEngine()
  const fresh = countingEngine()
  try {
    const own = await engine.generate(REQ)
    const logs: string[] = []
    const withVae = await engine.generate({ ...REQ, vae: VAE }, { onEvent: (e: EngineEvent) => { if (e.type === 'log') logs.push(e.message) } })
    const back = await engine.generate({ ...REQ, vae: 'Automatic' })
    assert.deepEqual(loads, [`${SD1} vae=none`], 'the checkpoint loaded once')
    assert.ok(logs.includes('VAE switched to shifted-vae.safetensors (no reload)'), logs.join('\n'))

    const freshWithVae = await fresh.engine.generate({ ...REQ, vae: VAE })
    assert.deepEqual(fresh.loads, [`${SD1} vae=${VAE}`])
    assert.notDeepEqual(withVae.images[0].rgb, own.images[0].rgb, 'the VAE changes the image')
    assert.deepEqual(withVae.images[0].rgb, freshWithVae.images[0].rgb)
    assert.equal(withVae.images[0].infotext, freshWithVae.images[0].infotext)
    assert.match(withVae.images[0].infotext, /VAE: shifted-vae\.safetensors/)
    assert.deepEqual(back.images[0].rgb, own.images[0].rgb, 'back to the checkpoint\'s own VAE')
    assert.equal(back.images[0].infotext, own.images[0].infotext)

    // and the other way: loaded with the separate VAE, switched to the checkpoint's own (read again from the file)
    const ownOnFresh = await fresh.engine.generate(REQ)
    assert.deepEqual(ownOnFresh.images[0].rgb, own.images[0].rgb)
    assert.equal(fresh.loads.length, 1)
  } finally {
    await engine.close()
    await fresh.engine.close()
  }
})
