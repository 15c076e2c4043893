/** Identification of generated tiny files (real key names, tiny widths): every kind, family, variant and LoRA algorithm. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSafetensors } from '../../formats/safetensors.ts'
import { identifyModel, readLoraAlphas, type Identification } from './index.ts'
import { tinyCheckpoint, tinyUnetOnly, tinyVae, writeSpecs, type TensorSpec, type TinyCheckpointOptions } from '../../../test/fixtures/tiny-files.ts'
import { unetSpecs, TINY_SD1_UNET } from '../../../test/fixtures/tiny-layouts.ts'
import { SD2_MODULES, SDXL_MODULES, tinyDiffusersLora, tinyEmbedding, tinyLora, tinySdxlEmbedding, type TinyLoraOptions } from '../../../test/fixtures/tiny-adapters.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-detect-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

let n = 0
async function identify(write: (file: string) => Promise<unknown>): Promise<Identification> {
  const file = join(dir, `f${n++}.safetensors`)
  await write(file)
  const src = await openSafetensors(file)
  try { return identifyModel(src) } finally { await src.close() }
}
const checkpoint = (o: TinyCheckpointOptions) => identify((f) => tinyCheckpoint(f, o))

test('checkpoints: family from structure, widths reported', async () => {
  const cases = [['sd1', 'sd1', 'SD1.x', 16], ['sd2', 'sd2', 'SD2.x', 24], ['sdxl', 'sdxl-base', 'SDXL base', 32], ['sdxl-refiner', 'sdxl-refiner', 'SDXL refiner', 16]] as const
  for (const [family, id, label, ctx] of cases) {
    const r = await checkpoint({ family })
    assert.ok(r.kind === 'checkpoint' && r.components, family)
    assert.deepEqual([r.architecture.id, r.architecture.label, r.architecture.supported], [id, label, true], family)
    assert.equal(r.components.unet?.contextDim?.value, ctx, family)
    assert.deepEqual(r.components.notes, [], family)
  }
})

test('SDXL refiner: only bigG under conditioner.embedders.0.model', async () => {
  const r = await checkpoint({ family: 'sdxl-refiner' })
  assert.ok(r.kind === 'checkpoint' && r.components)
  assert.deepEqual(r.components.textEncoders.map((e) => [e.layout.prefix, e.layout.slot]), [['conditioner.embedders.0.model.', 'te2']])
  assert.equal(r.components.unet?.admInChannels?.value, 36)
})

test('variants by UNet input channels: inpainting (9), instruct-pix2pix (8), unknown (7)', async () => {
  const inpaint = await checkpoint({ family: 'sd1', inChannels: 9 })
  assert.deepEqual([inpaint.architecture.label, inpaint.architecture.supported], ['SD1.x inpainting', true])
  const ip2p = await checkpoint({ family: 'sd1', inChannels: 8 })
  assert.equal(ip2p.architecture.label, 'SD1.x instruct-pix2pix')
  const xlInpaint = await checkpoint({ family: 'sdxl', inChannels: 9 })
  assert.equal(xlInpaint.architecture.label, 'SDXL base inpainting')
  const odd = await checkpoint({ family: 'sd2', inChannels: 7 })
  assert.deepEqual([odd.architecture.supported, odd.architecture.note],
    [false, '7 UNet input channels (model.diffusion_model.input_blocks.0.0.weight) is not a known SD2.x variant'])
})

test('EMA weights are found and counted', async () => {
  const r = await checkpoint({ family: 'sd1', ema: true, parts: ['unet'] })
  const plain = await checkpoint({ family: 'sd1', parts: ['unet'] })
  assert.equal(r.summary.ema.present, true)
  assert.equal(r.summary.ema.tensors, plain.summary.tensorCount)
  assert.equal(r.summary.ema.parameters, plain.summary.parameterCount)
  assert.equal(plain.summary.ema.present, false)
})

test('parts: UNet-only (prefixed and bare), VAE-only, text-encoder-only', async () => {
  const unet = await checkpoint({ family: 'sd1', parts: ['unet'] })
  assert.deepEqual([unet.kind, unet.architecture.id], ['unet-only', 'sd1'])
  const bare = await identify((f) => tinyUnetOnly(f, 'sdxl'))
  assert.ok(bare.kind === 'unet-only' && bare.components)
  assert.deepEqual([bare.architecture.id, bare.components.unet?.prefix], ['sdxl-base', ''])
  const vae = await identify(tinyVae)
  assert.ok(vae.kind === 'vae' && vae.components)
  assert.deepEqual([vae.architecture.id, vae.components.vae?.prefix, vae.components.vae?.latentChannels.value], ['sd-vae', '', 4])
  assert.deepEqual(vae.summary.dtypes.map((d) => d.dtype), ['F16'])
  const te = await checkpoint({ family: 'sd2', parts: ['te'] })
  assert.ok(te.kind === 'text-encoder' && te.components)
  assert.deepEqual(te.components.textEncoders.map((e) => [e.layout.role, e.width.value, e.layers]), [['OpenCLIP ViT-H/14 (SD2.x)', 24, 2]])
})

test('a text encoder that does not fit the UNet is a note', async () => {
  const r = await identify(async (f) => {
    const sd1 = await tinyCheckpoint(join(dir, 'a.safetensors'), { family: 'sd1', parts: ['unet'] })
    const sd2te = await tinyCheckpoint(join(dir, 'b.safetensors'), { family: 'sd2', parts: ['te'] })
    await writeSpecs(f, [...sd1, ...sd2te])
  })
  assert.equal(r.architecture.note, 'UNet structure (4 levels, attention at [1,1,1,0], conv proj_in, no label_emb) and 4 input channels; text encoder layout (cond_stage_model.model.) is not what a SD1.x checkpoint carries '
    + '(cond_stage_model.transformer.); UNet context width 16 (model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight) '
    + "differs from the text encoders' total width 24")
})

async function loraReport(o: TinyLoraOptions) {
  const file = join(dir, `l${n++}.safetensors`)
  await tinyLora(file, o)
  const src = await openSafetensors(file)
  try {
    const r = identifyModel(src)
    assert.ok(r.kind === 'lora', `expected lora, got ${r.kind}`)
    return { r, alphas: await readLoraAlphas(src, r.structure) }
  } finally { await src.close() }
}

test('LoRA algorithms per module', async () => {
  const cases = [
    ['lora', ['lora', 'locon']], ['dora', ['lora', 'locon']], ['loha', ['loha']], ['lokr', ['lokr']], ['ia3', ['ia3']],
    ['glora', ['glora']], ['oft', ['oft']], ['boft', ['boft']], ['full', ['full']],
  ] as const
  for (const [algorithm, expected] of cases) {
    const { r } = await loraReport({ algorithm })
    assert.deepEqual(r.lora.algorithms.map((a) => a.value).sort(), [...expected].sort(), algorithm)
    assert.equal(r.lora.moduleCount, 5, algorithm)
    assert.equal(r.lora.dora, algorithm === 'dora', algorithm)
    assert.deepEqual(r.lora.unrecognizedKeys, [], algorithm)
  }
})

test('LoRA rank, alpha, components and SD1/SD2/SDXL base from structure', async () => {
  const sd1 = await loraReport({ rank: 8, alpha: 3 })
  assert.deepEqual([sd1.r.lora.ranks, sd1.alphas], [[{ value: 8, count: 5 }], [{ value: 3, count: 5 }]])
  assert.deepEqual(sd1.r.lora.components, [{ value: 'unet', count: 3 }, { value: 'te1', count: 2 }])
  assert.equal(sd1.r.architecture.id, 'sd1')
  const sd2 = await loraReport({ modules: SD2_MODULES })
  assert.deepEqual([sd2.r.architecture.id, sd2.r.architecture.note],
    ['sd2', 'proj_in is linear (lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight [4, 8]) as in SD2.x'])
  const xl = await loraReport({ modules: SDXL_MODULES })
  assert.deepEqual([xl.r.architecture.id, xl.r.architecture.note],
    ['sdxl-base', 'SDXL text-encoder module name lora_te1_text_model_encoder_layers_0_self_attn_q_proj'])
  assert.deepEqual(xl.r.lora.components.map((c) => c.value).sort(), ['te1', 'te2', 'unet'])
})

test('LoRA base from metadata and from a released cross-attention width', async () => {
  const md = await loraReport({ metadata: { ss_base_model_version: 'sd_v2', ss_tag_frequency: '{"10_cat":{"cat":12,"sofa":3},"5_dog":{" cat":2,"dog":5}}' } })
  assert.deepEqual([md.r.architecture.id, md.r.architecture.note], ['sd2', 'metadata ss_base_model_version = "sd_v2"'])
  assert.deepEqual(md.r.metadata.kohya?.topTags, [{ tag: 'cat', count: 14 }, { tag: 'dog', count: 5 }, { tag: 'sofa', count: 3 }])
  const wide = SD2_MODULES.map((m) => (m.kohya.endsWith('to_k') ? { ...m, in: 1024 } : m))
  const w = await loraReport({ modules: wide })
  assert.equal(w.r.architecture.note, 'cross-attention lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k in-width 1024')
})

test('diffusers and PEFT LoRA key schemes', async () => {
  for (const scheme of ['diffusers', 'peft'] as const) {
    const r = await identify((f) => tinyDiffusersLora(f, scheme))
    assert.ok(r.kind === 'lora', scheme)
    assert.deepEqual([r.lora.schemes, r.lora.moduleCount], [[scheme], 3], scheme)
    assert.deepEqual(r.lora.components, [{ value: 'te1', count: 2 }, { value: 'unet', count: 1 }], scheme)
  }
})

test('bundled embeddings in a LoRA', async () => {
  const { r } = await loraReport({ extra: [{ name: 'bundle_emb.mychar.string_to_param.*', dtype: 'F32', shape: [2, 16] }] })
  assert.deepEqual(r.lora.bundledEmbeddings, ['mychar'])
})

test('embeddings: width decides SD1 / SD2 compatibility, SDXL by layout', async () => {
  const sd1 = await identify((f) => tinyEmbedding(f, 4, 768))
  assert.ok(sd1.kind === 'embedding')
  assert.deepEqual([sd1.embedding.vectorCount, sd1.embedding.compatible, sd1.architecture.label], [4, ['sd1'], 'SD1.x'])
  const sd2 = await identify((f) => tinyEmbedding(f, 1, 1024))
  assert.ok(sd2.kind === 'embedding')
  assert.deepEqual(sd2.embedding.compatible, ['sd2'])
  const diffusers = await identify((f) => writeSpecs(f, [{ name: '<cat-toy>', dtype: 'F32', shape: [768] }]))
  assert.ok(diffusers.kind === 'embedding')
  assert.deepEqual([diffusers.embedding.format, diffusers.embedding.vectorCount, diffusers.embedding.compatible], ['diffusers', 1, ['sd1']])
  const xl = await identify((f) => tinySdxlEmbedding(f, 2, 768, 1280))
  assert.ok(xl.kind === 'embedding')
  assert.equal(xl.embedding.compatibility, 'SDXL (768 + 1280)')
})

test('architectures recognised but not supported', async () => {
  const cases = [
    ['model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight', 'sd3'],
    ['model.diffusion_model.double_blocks.0.img_attn.qkv.weight', 'flux'],
    ['clip_txt_mapper.weight', 'stable-cascade'],
    ['t_block.1.weight', 'pixart'],
    ['model.cond_seq_linear.weight', 'auraflow'],
  ] as const
  for (const [key, id] of cases) {
    const r = await identify((f) => writeSpecs(f, [{ name: key, dtype: 'F16', shape: [4, 4] }]))
    assert.deepEqual([r.kind, r.architecture.id, r.architecture.supported], ['unet-only', id, false], id)
    assert.match(r.architecture.note, new RegExp(`^recognised by tensor "${key.replaceAll('.', '\\.')}"; .* is not supported$`))
  }
})

test('a file of unrelated tensors is unknown, with the reason', async () => {
  const r = await identify((f) => writeSpecs(f, [{ name: 'foo.bar', dtype: 'F32', shape: [2] }]))
  assert.ok(r.kind === 'unknown')
  assert.equal(r.reason, 'no UNet, VAE, text-encoder, LoRA or embedding keys found (1 tensors, first: "foo.bar")')
})

/** The tensors of a diffusers-layout UNet that detection looks at (widths per level, attention, proj_in, add_embedding). */
function diffusersUnet(channels: number[], attention: boolean[], projIn: 'conv' | 'linear', adm?: number): TensorSpec[] {
  const t = (name: string, shape: number[]): TensorSpec => ({ name, dtype: 'F16', shape })
  const specs = [t('conv_in.weight', [channels[0], 4, 3, 3]), t('conv_out.weight', [4, channels[0], 3, 3])]
  channels.forEach((c, i) => {
    for (const r of [0, 1]) specs.push(t(`down_blocks.${i}.resnets.${r}.conv2.weight`, [c, c, 3, 3]))
    if (!attention[i]) return
    specs.push(t(`down_blocks.${i}.attentions.0.proj_in.weight`, projIn === 'conv' ? [c, c, 1, 1] : [c, c]))
    specs.push(t(`down_blocks.${i}.attentions.0.transformer_blocks.0.attn2.to_k.weight`, [c, 16]))
  })
  if (adm !== undefined) specs.push(t('add_embedding.linear_1.weight', [32, adm]))
  return specs
}

test('diffusers-layout UNets', async () => {
  const sd1 = await identify((f) => writeSpecs(f, diffusersUnet([8, 16, 32, 32], [true, true, true, false], 'conv')))
  assert.ok(sd1.kind === 'unet-only' && sd1.components)
  assert.deepEqual([sd1.architecture.id, sd1.components.unet?.layout, sd1.components.unet?.contextDim?.value], ['sd1', 'diffusers', 16])
  const xl = await identify((f) => writeSpecs(f, diffusersUnet([8, 16, 16], [false, true, true], 'linear', 40)))
  assert.deepEqual([xl.kind, xl.architecture.id], ['unet-only', 'sdxl-base'])
})

test('ControlNet: recognised, family from its UNet half, not supported', async () => {
  const r = await identify((f) => writeSpecs(f, [...unetSpecs(TINY_SD1_UNET, 'control_model.', 'F16'),
    { name: 'control_model.input_hint_block.0.weight', dtype: 'F16', shape: [16, 3, 3, 3] },
    { name: 'control_model.zero_convs.0.0.weight', dtype: 'F16', shape: [8, 8, 1, 1] }]))
  assert.deepEqual([r.kind, r.architecture.id, r.architecture.supported], ['controlnet', 'sd1', false])
  assert.match(r.architecture.note, /; ControlNet models are recognised but not supported yet$/)
})

test('modelspec and sshs metadata', async () => {
  const { r } = await loraReport({ metadata: { 'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora', 'modelspec.title': 'My LoRA', 'sshs_model_hash': 'abc' } })
  assert.deepEqual([r.architecture.id, r.architecture.note], ['sdxl-base', 'metadata modelspec.architecture = "stable-diffusion-xl-v1-base/lora"'])
  assert.deepEqual(r.metadata.modelspec, { 'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora', 'modelspec.title': 'My LoRA' })
  assert.deepEqual(r.metadata.hashes, { sshs_model_hash: 'abc' })
  assert.equal(r.metadata.kohya, undefined)
})
