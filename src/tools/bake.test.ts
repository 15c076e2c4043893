import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ref } from '../../test/golden.ts'
import { loadAdapter } from '../adapters/adapter-file.ts'
import { loadBaseWeights } from '../adapters/memory-base.ts'
import { PatchSet } from '../adapters/patch-set.ts'
import type { Arch } from '../adapters/types.ts'
import { inspectFile } from './inspect.ts'
import { bakeAdapters, type BakeAdapter } from './bake.ts'
import { readAll } from './testing/variants.ts'
import { openTensorFile } from '../formats/open.ts'
import { randomTensor, rng } from '../adapters/testing/reference-ops.ts'
import { extractTargets } from './lora-targets.ts'
import { writeLoraFile, type LoraModule } from './lora-file.ts'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-bake-')) })

/** The engine's merged weights (PatchSet.update on the whole model in memory) against the baked file, bit for bit. */
async function assertBitExact(arch: Arch, ckpt: string, adapters: readonly BakeAdapter[], out: string): Promise<number> {
  const engineBase = await loadBaseWeights(ckpt)
  const set = new PatchSet(engineBase, arch)
  const entries = await Promise.all(adapters.map(async (a) => ({ adapter: await loadAdapter(a.file), te: a.te, unet: a.unet })))
  const { tensors } = await set.update(entries)
  const baked = await readAll(out)
  let differing = 0
  for (const key of engineBase.keys()) {
    const want = new Uint32Array(set.get(key).buffer, set.get(key).byteOffset, set.get(key).length)
    const got = new Uint32Array(baked.get(key)!.data.buffer)
    if (!want.every((w, i) => w === got[i])) differing++
  }
  assert.equal(differing, 0, `${differing} tensors differ from the engine's merge`)
  return tensors.size
}

test('sd1: LoRA + LoHa + LoKr baked equal the engine\'s merged weights bit for bit', async () => {
  const ckpt = ref('sd1', 'tiny-sd1.safetensors')
  const adapters: BakeAdapter[] = [
    { file: ref('sd1', 'adapters', 'tinylora.safetensors'), te: 0.7, unet: 0.7 },
    { file: ref('sd1', 'adapters', 'tinyloha.safetensors'), te: 0.5, unet: -0.3 },
    { file: ref('sd1', 'adapters', 'tinylokr.safetensors'), te: 0, unet: 1 },
  ]
  const out = join(dir, 'sd1-baked.safetensors')
  const r = await bakeAdapters(ckpt, adapters, out, { dtype: 'F32' })
  const patched = await assertBitExact('sd1', ckpt, adapters, out)
  assert.equal(r.tensorsChanged, patched)
  assert.equal(r.adapters.length, 3)
  assert.equal((await inspectFile(out)).kind, 'checkpoint')
})

test('sdxl: an fp16 kohya LoRA baked equals the engine\'s merge bit for bit', async () => {
  const ckpt = ref('sdxl', 'tiny-sdxl-base.safetensors')
  const adapters: BakeAdapter[] = [{ file: ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'), te: 0.8, unet: 0.8 }]
  const out = join(dir, 'sdxl-baked.safetensors')
  const r = await bakeAdapters(ckpt, adapters, out)
  assert.ok(r.tensorsChanged > 0)
  await assertBitExact('sdxl', ckpt, adapters, out)
})

test('a LoRA for another architecture is a ModelMismatchError naming both', async () => {
  await assert.rejects(bakeAdapters(ref('sd2', 'tiny-sd2-v.safetensors'), [{ file: ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'), te: 1, unet: 1 }], join(dir, 'x.safetensors')),
    /tinyxl_lora\.safetensors: adapter "tinyxl_lora" is for SDXL but the base model is SD2\.x/)
})

test('sd2: a LoRA on the open_clip attention (q/k/v rows of in_proj_weight) and the UNet bakes bit for bit', async () => {
  const ckpt = ref('sd2', 'tiny-sd2-v.safetensors')
  const s = await openTensorFile(ckpt)
  const targets = extractTargets(s.keys(), (k) => s.info(k).shape, 'sd2', { conv: false })
  const modules: LoraModule[] = targets.filter((t) => t.key.includes('resblocks.0.') || t.key.includes('attn2.to_k')).map((t) => {
    const shape = s.info(t.key).shape
    const out = t.rows ? t.rows.end - t.rows.start : shape[0]
    const inner = shape.slice(1).reduce((a, b) => a * b, 1)
    const next = rng(out + inner)
    return { name: t.name, up: randomTensor([out * 2], next, 0.1).data, down: randomTensor([2 * inner], next, 0.1).data, out, rank: 2, inner, alpha: 1, downShape: [2, ...shape.slice(1)] }
  })
  await s.close()
  const lora = join(dir, 'sd2-lora.safetensors')
  await writeLoraFile(lora, modules, { dtype: 'F32', metadata: {} })
  const out = join(dir, 'sd2-baked.safetensors')
  const r = await bakeAdapters(ckpt, [{ file: lora, te: 1, unet: 0.6 }], out, { strict: true })
  assert.equal(r.adapters[0].applied.te1, 6)
  assert.ok(r.adapters[0].applied.unet > 0)
  await assertBitExact('sd2', ckpt, [{ file: lora, te: 1, unet: 0.6 }], out)
})
