/*
 * The adapters' full-run goldens (reference README sd1/adapters and sdxl/adapters `run.*`): txt2img with
 * `<lora:NAME:0.7>` resolved in the reference adapters folder (--loras) and an embedding from its embeddings folder
 * (--embeddings) in the negative prompt; euler, 8 steps, CFG 7, seed 42, 64x64, CPU noise. Latent within
 * 1e-3 · max|latent|, image 1e-2, uint8 ±1 (and the SDXL golden PNG ±1); the infotext carries A1111's Lora hashes
 * (AutoV3 of the LoRA) and TI hashes (first 12 hex of the embedding file's SHA-256).
 * Each case runs in both adapter modes: merged, and bypass (LoRA layers as unmerged low-rank branches in the graphs;
 * open_clip q/k/v row slices stay merged), with the same tolerances.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { readPng } from '../../src/image/png.ts'
import { imageToUint8 } from '../../src/image/to-uint8.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { loadModel } from '../../src/pipeline/load-model.ts'
import { prepareAdapters, type AdapterMode } from '../../src/pipeline/adapters.ts'
import { loraRequestsFromPrompt } from '../../src/pipeline/extra-networks-resolve.ts'
import { txt2img } from '../../src/pipeline/txt2img.ts'
import { assertClose, maxAbs, maxAbsDiff, readRefJson, ref, refTensors } from '../golden.ts'
import { maxByteDiff, tokenizer } from './pipeline-goldens.ts'

/** AutoV3 computed here from the bytes: SHA-256 of a safetensors file's data after its JSON header, first 12 hex. */
async function autoV3(file: string): Promise<string> {
  const bytes = await readFile(file)
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
  return createHash('sha256').update(bytes.subarray(8 + headerLength)).digest('hex').slice(0, 12)
}

interface Case {
  readonly dir: 'sd1' | 'sdxl'
  readonly model: string
  readonly goldens: string
  readonly lora: string
  readonly embedding: string
  readonly condKey: string
  readonly png?: string
}

const CASES: readonly Case[] = [
  { dir: 'sd1', model: 'tiny-sd1.safetensors', goldens: 'adapter_goldens', lora: 'tinylora', embedding: 'tinyneg.safetensors', condKey: '' },
  { dir: 'sdxl', model: 'tiny-sdxl-base.safetensors', goldens: 'sdxl_adapter_goldens', lora: 'tinyxl_lora', embedding: 'tinyxlemb.safetensors', condKey: '.crossattn', png: 'run.euler.64x64.png' },
]

const MODES: readonly AdapterMode[] = ['merge', 'bypass']

for (const c of CASES) for (const mode of MODES) {
  test(`${c.dir} run golden (${mode}): <lora:${c.lora}:0.7> + ${c.embedding} in the negative prompt through txt2img`, async () => {
    const run = readRefJson<{ run: { prompt: string; negative_prompt: string; steps: number; cfg_scale: number; seed: number; size: number[] } }>(c.dir, 'adapters', `${c.goldens}.json`).run
    const model = await loadModel(ref(c.dir, c.model), { threads: 1 })
    try {
      const logged: string[] = []
      const adapters = await prepareAdapters(model, {
        loras: loraRequestsFromPrompt(run.prompt), lorasDir: ref(c.dir, 'adapters'), embeddingsDir: ref(c.dir, 'adapters', 'embeddings'),
        tokenizer, hashCache: false, mode,
      }, (line) => logged.push(line))
      assert.deepEqual(logged.filter((l) => l.startsWith('warning')), [])
      const [lora] = adapters.report.loras
      const modules = lora.applied.unet + lora.applied.te1 + lora.applied.te2
      const bypassed = lora.bypassed.unet + lora.bypassed.te1 + lora.bypassed.te2
      // open_clip (SDXL bigG) attention q/k/v patch rows of in_proj_weight: always merged.
      const rowSliced = c.dir === 'sdxl' ? (lora.applied.te2 / 6) * 3 : 0
      assert.equal(bypassed, mode === 'bypass' ? modules - rowSliced : 0)
      assert.equal(adapters.report.bypassedLayers, bypassed)
      const [img] = await txt2img(model, {
        prompt: run.prompt, negativePrompt: run.negative_prompt, sampler: 'Euler', steps: run.steps, cfgScale: run.cfg_scale,
        seed: run.seed, rng: 'cpu', width: run.size[1], height: run.size[0], tokenizer,
        embeddings: adapters.embeddings, loraHashes: adapters.infotext.loraHashes, tiHashes: adapters.infotext.tiHashes,
      })
      const src = await refTensors(c.dir, 'adapters', `${c.goldens}.safetensors`)
      const latent = await src.readF32('run.latent')
      const d = maxAbsDiff(img.latent, latent)
      assert.ok(d <= 1e-3 * maxAbs(latent), `latent: ${d} > 1e-3 · ${maxAbs(latent)}`)
      assertClose(img.image.data, await src.readF32('run.image'), 1e-2, 'run.image')
      const u8 = imageToUint8(img.image).data
      assert.ok(maxByteDiff(u8, await src.readRaw('run.image_uint8')) <= 1, 'run.image_uint8 off by more than 1')
      if (c.png) assert.ok(maxByteDiff(u8, (await readPng(ref(c.dir, 'adapters', c.png))).data) <= 1, `${c.png} off by more than 1`)
      const loraHash = await autoV3(ref(c.dir, 'adapters', `${c.lora}.safetensors`))
      const tiHash = createHash('sha256').update(await readFile(ref(c.dir, 'adapters', 'embeddings', c.embedding))).digest('hex').slice(0, 12)
      const params = formatInfotext(img.info).split('\n').at(-1)!
      const name = c.embedding.replace(/\.safetensors$/, '')
      assert.match(params, new RegExp(`, Lora hashes: "${c.lora}: ${loraHash}", TI hashes: "${name}: ${tiHash}", `))
    } finally {
      await model.release()
    }
  })
}
