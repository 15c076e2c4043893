/** Every reference model file in ../shared/reference identified; configs checked against the harness's own configs. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readRefJson, refTensors } from '../../../test/golden.ts'
import { identifyModel, readLoraAlphas, type Identification } from './index.ts'

type Dict = Record<string, any>

function components(r: Identification) {
  assert.ok(r.kind === 'checkpoint' && 'components' in r && r.components, `expected a checkpoint, got ${r.kind}`)
  return r.components
}

/** Measured UNet config vs the diffusers config the harness wrote for the same model. */
function checkUnet(r: Identification, cfg: Dict): void {
  const u = components(r).unet!
  assert.equal(u.inChannels.value, cfg.in_channels)
  assert.deepEqual(u.levels.value.map((l) => l.channels), cfg.block_out_channels)
  assert.deepEqual(u.levels.value.map((l) => l.transformerDepth > 0), cfg.down_block_types.map((t: string) => t.startsWith('CrossAttn')))
  assert.equal(u.contextDim?.value, cfg.cross_attention_dim)
  assert.equal(u.projIn?.value, cfg.use_linear_projection ? 'linear' : 'conv')
  assert.equal(u.resBlocksPerLevel, cfg.layers_per_block)
  assert.equal(u.admInChannels?.value, cfg.projection_class_embeddings_input_dim ?? undefined)
}

function checkSummary(r: Identification, keys: Dict): void {
  const entries = Object.values(keys) as { shape: number[] }[]
  assert.equal(r.summary.tensorCount, entries.length)
  assert.equal(r.summary.parameterCount, entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0))
  assert.equal(r.summary.ema.present, false)
}

test('tiny-sd1.safetensors: SD1.x checkpoint with CLIP-L text encoder and VAE', async () => {
  const r = identifyModel(await refTensors('sd1', 'tiny-sd1.safetensors'))
  assert.equal(r.kind, 'checkpoint')
  assert.deepEqual([r.architecture.id, r.architecture.label, r.architecture.supported], ['sd1', 'SD1.x', true])
  checkUnet(r, readRefJson('sd1', 'diffusers_unet_config.json'))
  const c = components(r)
  const te = readRefJson('sd1', 'transformers_clip_text_config.json')
  assert.deepEqual(c.textEncoders.map((e) => [e.layout.prefix, e.width.value, e.layers]),
    [['cond_stage_model.transformer.text_model.', te.hidden_size, te.num_hidden_layers]])
  const vae = readRefJson('sd1', 'diffusers_vae_config.json')
  assert.deepEqual([c.vae?.baseChannels.value, c.vae?.latentChannels.value, c.vae?.levels], [vae.block_out_channels[0], vae.latent_channels, vae.block_out_channels.length])
  assert.equal(c.family?.standardWidths, false)
  assert.deepEqual(c.notes, [])
  checkSummary(r, readRefJson('sd1', 'tiny-sd1.keys.json'))
  assert.deepEqual(r.summary.dtypes.map((d) => d.dtype), ['F32', 'I64'])
})

test('tiny-sd2-v.safetensors: SD2.x checkpoint with OpenCLIP text encoder', async () => {
  const r = identifyModel(await refTensors('sd2', 'tiny-sd2-v.safetensors'))
  assert.deepEqual([r.kind, r.architecture.id, r.architecture.label], ['checkpoint', 'sd2', 'SD2.x'])
  assert.equal(r.architecture.note, 'UNet structure (4 levels, attention at [1,1,1,0], linear proj_in, no label_emb) and 4 input channels; '
    + 'epsilon vs v-prediction is not visible in the weights (768-v models need v; A1111 probes the model)')
  checkUnet(r, readRefJson('sd2', 'diffusers_unet_config.json'))
  const oc = readRefJson('sd2', 'open_clip_text_config.json')
  assert.deepEqual(components(r).textEncoders.map((e) => [e.layout.prefix, e.width.value, e.layers, e.projectionDim?.value]),
    [['cond_stage_model.model.', oc.width, oc.layers, oc.embed_dim]])
  checkSummary(r, readRefJson('sd2', 'tiny-sd2-v.keys.json'))
})

test('tiny-sdxl-base.safetensors: SDXL base with CLIP-L + bigG and label_emb', async () => {
  const r = identifyModel(await refTensors('sdxl', 'tiny-sdxl-base.safetensors'))
  assert.deepEqual([r.kind, r.architecture.id, r.architecture.label], ['checkpoint', 'sdxl-base', 'SDXL base'])
  const cfg = readRefJson('sdxl', 'diffusers_unet_config.json')
  checkUnet(r, cfg)
  assert.deepEqual(components(r).unet!.levels.value.map((l) => l.transformerDepth).slice(1), cfg.transformer_layers_per_block.slice(1))
  const l = readRefJson('sdxl', 'transformers_clip_l_config.json')
  const g = readRefJson('sdxl', 'open_clip_bigG_text_config.json')
  assert.deepEqual(components(r).textEncoders.map((e) => [e.layout.slot, e.width.value, e.layers, e.projectionDim?.value]),
    [['te1', l.hidden_size, l.num_hidden_layers, undefined], ['te2', g.width, g.layers, g.embed_dim]])
  checkSummary(r, readRefJson('sdxl', 'tiny-sdxl-base.keys.json'))
})

async function lora(path: string[]) {
  const src = await refTensors(...path)
  const r = identifyModel(src)
  assert.ok(r.kind === 'lora', `expected lora, got ${r.kind}`)
  return { r, alphas: await readLoraAlphas(src, r.structure) }
}

test('sd1 adapters: kohya LoRA (+LoCon), LyCORIS LoHa and LoKr', async () => {
  const g = readRefJson('sd1', 'adapters', 'adapter_goldens.json')
  const expectAlgo = { 'tinylora.safetensors': ['lora', 'locon'], 'tinyloha.safetensors': ['loha'], 'tinylokr.safetensors': ['lokr'] } as const
  for (const [file, algos] of Object.entries(expectAlgo)) {
    const { r, alphas } = await lora(['sd1', 'adapters', file])
    assert.equal(r.summary.tensorCount, g.files[file], file)
    assert.deepEqual(r.lora.algorithms.map((a) => a.value).sort(), [...algos].sort(), file)
    assert.equal(r.lora.moduleCount, 280, file)
    assert.deepEqual(r.lora.components, [{ value: 'unet', count: 256 }, { value: 'te1', count: 24 }], file)
    assert.deepEqual(r.lora.ranks.map((x) => x.value), [g.rank], file)
    // LoKr modules with a full (unfactorised) w2 store alpha = rank (README: "then scale 1").
    const full = r.structure.modules.filter((m) => m.parts.lokr_w2 !== undefined).length
    assert.deepEqual(alphas, full === 0 ? [{ value: g.alpha, count: 280 }] : [{ value: g.alpha, count: 280 - full }, { value: g.rank, count: full }], file)
    assert.deepEqual(r.lora.schemes, ['kohya'], file)
    assert.deepEqual(r.lora.unrecognizedKeys, [], file)
  }
  const base = async (f: string) => (await lora(['sd1', 'adapters', f])).r.architecture
  assert.deepEqual(await base('tinylora.safetensors'), { id: 'sd1', label: 'SD1.x', supported: true,
    note: 'proj_in is a 1x1 conv (lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight [4, 32, 1, 1]) as in SD1.x' })
  assert.deepEqual(await base('tinylokr.safetensors'), { id: 'sd1', label: 'SD1.x', supported: true,
    note: 'proj_in is a 1x1 conv (lora_unet_down_blocks_0_attentions_0_proj_in.lokr_w2 [8, 8, 1, 1]) as in SD1.x' })
  // LoHa flattens conv factors to 2-D, so a tiny LoHa cannot tell SD1's 1x1-conv proj_in from SD2's linear one.
  assert.deepEqual(await base('tinyloha.safetensors'), { id: 'sd1|sd2', label: 'SD1.x or SD2.x', supported: true,
    note: "attention at the first UNet level (lora_unet_down_blocks_0_attentions_0_proj_in) means SD1.x or SD2.x; proj_in's LoRA shape does not tell 1x1 conv from linear" })
})

test('tinyxl_lora.safetensors: SDXL kohya LoRA with both text encoders, fp16, metadata', async () => {
  const g = readRefJson('sdxl', 'adapters', 'sdxl_adapter_goldens.json')
  const { r, alphas } = await lora(['sdxl', 'adapters', 'tinyxl_lora.safetensors'])
  assert.deepEqual([r.architecture.id, r.architecture.note], ['sdxl-base', 'metadata ss_base_model_version = "sdxl_base_v1-0"'])
  assert.equal(r.lora.moduleCount, g.lora_file.modules)
  assert.equal(r.summary.tensorCount, g.lora_file.tensors)
  assert.deepEqual(Object.fromEntries(r.lora.components.map((c) => [c.value, c.count])), { unet: g.lora_file.unet, te1: g.lora_file.te1, te2: g.lora_file.te2 })
  assert.deepEqual(r.lora.ranks, [{ value: g.rank, count: g.lora_file.modules }])
  assert.deepEqual(alphas, [{ value: g.alpha, count: g.lora_file.modules }])
  assert.deepEqual(r.summary.dtypes.map((d) => d.dtype), ['F16'])
  assert.deepEqual(r.metadata.kohya?.networkArgs, { conv_dim: '2', conv_alpha: '1.0' })
  assert.equal(r.metadata.kohya?.outputName, 'tinyxl_lora')
})

test('embeddings: tinyneg (emb_params) and tinyxlemb (clip_l + clip_g)', async () => {
  const neg = identifyModel(await refTensors('sd1', 'adapters', 'embeddings', 'tinyneg.safetensors'))
  assert.ok(neg.kind === 'embedding')
  assert.deepEqual([neg.embedding.format, neg.embedding.vectorCount, neg.embedding.vectors[0].dim.value], ['a1111-safetensors', 3, 32])
  assert.equal(neg.embedding.compatibility, 'width 32 matches no released model (768 SD1.x, 1024 SD2.x)')
  const xl = identifyModel(await refTensors('sdxl', 'adapters', 'embeddings', 'tinyxlemb.safetensors'))
  assert.ok(xl.kind === 'embedding')
  assert.deepEqual(xl.embedding.vectors.map((v) => [v.encoder, v.count, v.dim.value]), [['clip_l', 2, 32], ['clip_g', 2, 32]])
  assert.deepEqual([xl.architecture.id, xl.embedding.compatibility], ['sdxl', 'SDXL layout, widths 32 + 32 (released SDXL: 768 + 1280)'])
})
