/** Patch-set behaviour on the tiny reference models: caching, reports, strict mode, traps, wrong-architecture errors. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HostTensor } from '../core/host-tensor.ts'
import { ModelMismatchError } from '../core/errors.ts'
import { ref } from '../../test/golden.ts'
import { adapterFromTensors, loadAdapter } from './adapter-file.ts'
import { loadBaseWeights, MemoryBaseWeights } from './memory-base.ts'
import { PatchSet } from './patch-set.ts'
import { mm, randomTensor, rng } from './testing/reference-ops.ts'

let sd1: Promise<MemoryBaseWeights> | undefined
const sd1Base = () => (sd1 ??= loadBaseWeights(ref('sd1', 'tiny-sd1.safetensors')))
let sdxl: Promise<MemoryBaseWeights> | undefined
const sdxlBase = () => (sdxl ??= loadBaseWeights(ref('sdxl', 'tiny-sdxl-base.safetensors')))

const loraParts = (name: string, out: number, inp: number, next: () => number): [string, HostTensor][] => [
  [`${name}.lora_down.weight`, randomTensor([2, inp], next)],
  [`${name}.lora_up.weight`, randomTensor([out, 2], next)],
  [`${name}.alpha`, { shape: [], data: Float32Array.of(1) }],
]

test('a multiplier change or removal recomputes only the tensors of that adapter', async () => {
  const base = await sd1Base()
  const lora = await loadAdapter(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const lokr = await loadAdapter(ref('sd1', 'adapters', 'tinylokr.safetensors'))
  const next = rng(11)
  const one = adapterFromTensors({ file: 'one.safetensors', tensors: new Map(loraParts('lora_unet_mid_block_attentions_0_proj_in', 96, 96, next)) })
  const set = new PatchSet(base, 'sd1')
  const first = await set.update([{ adapter: lora, te: 1, unet: 1 }, { adapter: one, te: 1, unet: 1 }])
  assert.equal(first.changed.length, first.tensors.size)
  const before = new Map([...first.tensors].map(([k, v]) => [k, v]))
  const second = await set.update([{ adapter: lora, te: 1, unet: 1 }, { adapter: one, te: 1, unet: 0.5 }])
  assert.deepEqual(second.changed, ['model.diffusion_model.middle_block.1.proj_in.weight'])
  const te = 'cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight'
  assert.equal(second.tensors.get(te), before.get(te), 'untouched tensors are the same arrays')
  const third = await set.update([{ adapter: lora, te: 0, unet: 1 }, { adapter: one, te: 1, unet: 0.5 }])
  assert.equal(third.changed.length, 24, 'te multiplier 0: the 24 text-encoder weights go back to the base')
  assert.equal(set.get(te), base.get(te))
  const fourth = await set.update([{ adapter: lokr, te: 1, unet: 1 }])
  assert.equal(fourth.reports[0].adapter, 'tinylokr')
  assert.equal((await set.update([])).tensors.size, 0)
  for (const key of fourth.tensors.keys()) assert.equal(set.get(key), base.get(key))
})

test('unmatched keys are reported; strict turns them into an error', async () => {
  const base = await sd1Base()
  const next = rng(12)
  const tensors = new Map([
    ...loraParts('lora_unet_down_blocks_0_attentions_0_proj_in', 32, 32, next),
    ...loraParts('lora_unet_input_blocks_99_1_proj_in', 32, 32, next),
    ['some_other_tensor', randomTensor([3], next)] as [string, HostTensor],
  ])
  const adapter = adapterFromTensors({ file: '/x/odd.safetensors', tensors })
  const { reports } = await new PatchSet(base, 'sd1').update([{ adapter, te: 1, unet: 1 }])
  assert.deepEqual(reports[0].applied, { unet: 1, te1: 0, te2: 0 })
  assert.deepEqual([...reports[0].unmatchedKeys].sort(), [
    'lora_unet_input_blocks_99_1_proj_in.alpha', 'lora_unet_input_blocks_99_1_proj_in.lora_down.weight',
    'lora_unet_input_blocks_99_1_proj_in.lora_up.weight', 'some_other_tensor',
  ])
  await assert.rejects(() => new PatchSet(base, 'sd1', { strict: true }).update([{ adapter, te: 1, unet: 1 }]), {
    name: 'ModelMismatchError',
    message: 'odd.safetensors: 4 adapter key(s) or module(s) cannot be applied to this SD1.x model (strict): '
      + '"some_other_tensor", "lora_unet_input_blocks_99_1_proj_in.lora_down.weight", '
      + '"lora_unet_input_blocks_99_1_proj_in.lora_up.weight", "lora_unet_input_blocks_99_1_proj_in.alpha". '
      + 'Hint: run without strict to apply the rest and list them as warnings.',
  })
})

test('an SDXL LoRA on SD1 is a ModelMismatchError naming both architectures', async () => {
  const base = await sd1Base()
  const adapter = await loadAdapter(ref('sdxl', 'adapters', 'tinyxl_lora.safetensors'))
  const set = new PatchSet(base, 'sd1')
  await assert.rejects(() => set.update([{ adapter, te: 1, unet: 1 }]), (e: unknown) => {
    assert.ok(e instanceof ModelMismatchError)
    assert.equal(e.message, 'tinyxl_lora.safetensors: adapter "tinyxl_lora" is for SDXL but the base model is SD1.x: '
      + 'it has 24 modules with the prefix lora_te2_ (SDXL\'s second text encoder, OpenCLIP bigG). '
      + 'Hint: load an SDXL checkpoint, or use an adapter made for SD1.x.')
    return true
  })
  assert.equal((await set.update([])).tensors.size, 0, 'a failed update changes nothing')
})

test('an SD1 LoRA on SDXL and a cross-attention width mismatch are ModelMismatchErrors', async () => {
  const lora = await loadAdapter(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const xl = await sdxlBase()
  const one = await sd1Base()
  await assert.rejects(() => new PatchSet(xl, 'sdxl').update([{ adapter: lora, te: 1, unet: 1 }]), {
    message: 'tinylora.safetensors: adapter "tinylora" is for SD1.x but the base model is SDXL: it has 24 text-encoder '
      + 'modules with the SD1.x/SD2.x prefix lora_te_ (SDXL LoRAs use lora_te1_ and lora_te2_). '
      + 'Hint: load an SD1.x checkpoint, or use an adapter made for SDXL.',
  })
  const next = rng(13)
  const wide = adapterFromTensors({
    file: 'wide.safetensors',
    tensors: new Map(loraParts('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 32, 2048, next)),
  })
  await assert.rejects(() => new PatchSet(one, 'sd1').update([{ adapter: wide, te: 1, unet: 1 }]), {
    message: 'wide.safetensors: adapter "wide" is for SDXL but the base model is SD1.x: module '
      + 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k → '
      + 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight: lora_up.weight [32, 2] × '
      + 'lora_down.weight [2, 2048] gives a [32, 2048] update, the layer is [32, 32]. '
      + 'Hint: load an SDXL checkpoint, or use an adapter made for SD1.x.',
  })
})

test('bigG attention traps: q/k/v without out_proj, or out_proj alone, change nothing (A1111 trap_checks)', async () => {
  const base = await sdxlBase()
  const next = rng(14)
  const layer = 'lora_te2_text_model_encoder_layers_0_self_attn'
  const make = (projs: string[]) => adapterFromTensors({
    file: 'trap.safetensors', tensors: new Map(projs.flatMap((p) => loraParts(`${layer}_${p}`, 32, 32, next))),
  })
  for (const projs of [['q_proj', 'k_proj', 'v_proj'], ['out_proj']]) {
    const { tensors, reports } = await new PatchSet(base, 'sdxl').update([{ adapter: make(projs), te: 1, unet: 1 }])
    assert.equal(tensors.size, 0, projs.join(','))
    assert.equal(reports[0].skipped.length, projs.length)
    assert.match(reports[0].skipped[0].reason, /patched only when q_proj, k_proj, v_proj and out_proj are all present/)
  }
  const all = await new PatchSet(base, 'sdxl').update([{ adapter: make(['q_proj', 'k_proj', 'v_proj', 'out_proj']), te: 1, unet: 1 }])
  assert.deepEqual([...all.tensors.keys()].sort(), [
    'conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight',
    'conditioner.embedders.1.model.transformer.resblocks.0.attn.out_proj.weight',
  ])
  assert.deepEqual(all.reports[0].applied, { unet: 0, te1: 0, te2: 4 })
})

test('SD2: lora_te_ modules land on open_clip resblocks (q/k/v rows of in_proj, out_proj, c_fc, c_proj); PEFT names agree', async () => {
  const base = await loadBaseWeights(ref('sd2', 'tiny-sd2-v.safetensors'))
  const next = rng(15)
  const shapes: Record<string, [number, number]> = { self_attn_q_proj: [32, 32], self_attn_k_proj: [32, 32], self_attn_v_proj: [32, 32], self_attn_out_proj: [32, 32], mlp_fc1: [128, 32], mlp_fc2: [32, 128] }
  const kohya = new Map(Object.entries(shapes).flatMap(([n, [o, i]]) => loraParts(`lora_te_text_model_encoder_layers_2_${n}`, o, i, next)))
  const peft = new Map([...kohya].flatMap(([k, t]) => {
    const m = /^lora_te_text_model_encoder_layers_2_(self_attn|mlp)_(.+)\.(lora_down|lora_up)\.weight$/.exec(k)
    return m ? [[`text_encoder.text_model.encoder.layers.2.${m[1]}.${m[2]}.${m[3] === 'lora_down' ? 'lora_A' : 'lora_B'}.weight`, t] as [string, HostTensor]] : []
  }))
  const rb = 'cond_stage_model.model.transformer.resblocks.2'
  const expected = (name: string, scale: number): Float64Array => {
    const up = kohya.get(`lora_te_text_model_encoder_layers_2_${name}.lora_up.weight`)!
    const down = kohya.get(`lora_te_text_model_encoder_layers_2_${name}.lora_down.weight`)!
    return mm(up.data, down.data, up.shape[0], 2, down.shape[1]).map((v) => Math.fround(v * scale * 0.6))
  }
  for (const [tensors, scale] of [[kohya, 0.5], [peft, 1]] as const) {
    const set = new PatchSet(base, 'sd2', { strict: true })
    await set.update([{ adapter: adapterFromTensors({ file: 'sd2.safetensors', tensors }), te: 0.6, unet: 1 }])
    const inProj = set.get(`${rb}.attn.in_proj_weight`)
    const w = base.get(`${rb}.attn.in_proj_weight`)
    ;['q', 'k', 'v'].forEach((p, j) => {
      const d = expected(`self_attn_${p}_proj`, scale)
      for (let e = 0; e < d.length; e++) assert.ok(Math.abs(inProj[j * 1024 + e] - w[j * 1024 + e] - d[e]) < 1e-6, `${p} row delta`)
    })
    for (const [ldm, name] of [['attn.out_proj', 'self_attn_out_proj'], ['mlp.c_fc', 'mlp_fc1'], ['mlp.c_proj', 'mlp_fc2']]) {
      const got = set.get(`${rb}.${ldm}.weight`)
      const b = base.get(`${rb}.${ldm}.weight`)
      const d = expected(name, scale)
      for (let e = 0; e < d.length; e++) assert.ok(Math.abs(got[e] - b[e] - d[e]) < 1e-6, ldm)
    }
    assert.equal(set.get(`${rb}.attn.in_proj_bias`), base.get(`${rb}.attn.in_proj_bias`))
  }
})

test('DoRA orientation is reported; a flat dora_scale on a square layer is ambiguous and taken per input', async () => {
  const base = await sd1Base()
  const next = rng(16)
  const name = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'
  const tensors = (scaleShape: number[]) => new Map([...loraParts(name, 32, 32, next), [`${name}.dora_scale`, randomTensor(scaleShape, next)] as [string, HostTensor]])
  const report = async (shape: number[]) => (await new PatchSet(base, 'sd1').update([{ adapter: adapterFromTensors({ file: 'd.safetensors', tensors: tensors(shape) }), te: 1, unet: 1 }])).reports[0].dora
  assert.deepEqual(await report([32, 1]), { input: 0, output: 1, ambiguous: [] })
  assert.deepEqual(await report([1, 32]), { input: 1, output: 0, ambiguous: [] })
  assert.deepEqual(await report([32]), { input: 1, output: 0, ambiguous: [name] })
})

test('without the delta cache, or patching in place, the results are bit-identical', async () => {
  const base = await sd1Base()
  const loha = await loadAdapter(ref('sd1', 'adapters', 'tinyloha.safetensors'))
  const lora = await loadAdapter(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const cached = new PatchSet(base, 'sd1')
  const others = [new PatchSet(base, 'sd1', { cacheDeltas: false }), new PatchSet(base, 'sd1', { inPlace: true })]
  const key = 'model.diffusion_model.middle_block.1.proj_in.weight'
  let inPlaceArray: Float32Array | undefined
  for (const entries of [[{ adapter: loha, te: 1, unet: 0.5 }], [{ adapter: loha, te: 0.2, unet: 0.5 }, { adapter: lora, te: 1, unet: -1 }]]) {
    const a = await cached.update(entries)
    for (const other of others) {
      const b = await other.update(entries)
      assert.deepEqual(b.changed, a.changed)
      for (const [k, t] of a.tensors) assert.deepEqual(b.tensors.get(k), t, k)
    }
    inPlaceArray ??= others[1].get(key)
    assert.equal(others[1].get(key), inPlaceArray, 'in place keeps the array')
  }
})

test('an inpainting UNet (9 input channels) takes a 4-channel conv_in LoRA on its first 4 channels', async () => {
  const next = rng(17)
  const key = 'model.diffusion_model.input_blocks.0.0.weight'
  const base = new MemoryBaseWeights('inpaint.safetensors', new Map([[key, randomTensor([6, 9, 3, 3], next)]]))
  const down = randomTensor([2, 4, 3, 3], next)
  const up = randomTensor([6, 2, 1, 1], next)
  const adapter = adapterFromTensors({ file: 'c.safetensors', tensors: new Map([['lora_unet_conv_in.lora_down.weight', down], ['lora_unet_conv_in.lora_up.weight', up]]) })
  const set = new PatchSet(base, 'sd1', { strict: true })
  await set.update([{ adapter, te: 1, unet: 0.5 }])
  const d = mm(up.data, down.data, 6, 2, 36)
  const got = set.get(key)
  const w = base.get(key)
  for (let o = 0; o < 6; o++) for (let c = 0; c < 9; c++) for (let e = 0; e < 9; e++) {
    const i = (o * 9 + c) * 9 + e
    const expected = c < 4 ? w[i] + Math.fround(0.5 * Math.fround(d[(o * 4 + c) * 9 + e])) : w[i]
    assert.ok(Math.abs(got[i] - expected) < 1e-6, `o${o} c${c}`)
  }
})

test('PEFT DoRA lora_magnitude_vector is a per-output magnitude, even on a square layer', async () => {
  const base = await sd1Base()
  const next = rng(18)
  const m = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
  const magnitude = randomTensor([32], next)
  const adapter = adapterFromTensors({ file: 'peft.safetensors', tensors: new Map([
    [`${m}.lora_A.weight`, randomTensor([2, 32], next)], [`${m}.lora_B.weight`, randomTensor([32, 2], next)], [`${m}.lora_magnitude_vector`, magnitude],
  ]) })
  const set = new PatchSet(base, 'sd1', { strict: true })
  const { reports } = await set.update([{ adapter, te: 1, unet: 1 }])
  assert.deepEqual(reports[0].dora, { input: 0, output: 1, ambiguous: [] })
  const w = set.get('model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight')
  for (let o = 0; o < 32; o++) {
    let n = 0
    for (let i = 0; i < 32; i++) n += w[o * 32 + i] ** 2
    assert.ok(Math.abs(Math.sqrt(n) - Math.abs(magnitude.data[o])) < 1e-5, `row ${o} has the stored magnitude`)
  }
})

test('switching adapters reuses the replaced arrays and gives what a fresh patch set gives', async () => {
  const base = await sd1Base()
  const lora = await loadAdapter(ref('sd1', 'adapters', 'tinylora.safetensors'))
  const doubled = adapterFromTensors({
    file: 'doubled.safetensors',
    tensors: new Map(lora.modules.flatMap((m) => [...m.parts].map(([p, t]) => [`${m.name}.${p}`, { shape: t.shape, data: t.data.map((v) => 2 * v) }] as [string, HostTensor]))),
  })
  const lokr = await loadAdapter(ref('sd1', 'adapters', 'tinylokr.safetensors'))
  for (const inPlace of [false, true]) {
    const set = new PatchSet(base, 'sd1', { inPlace })
    await set.update([{ adapter: lora, te: 1, unet: 0.5 }])
    for (const next of [doubled, lokr, lora]) {
      const got = await set.update([{ adapter: next, te: 0.8, unet: 0.9 }])
      const fresh = await new PatchSet(base, 'sd1').update([{ adapter: next, te: 0.8, unet: 0.9 }])
      assert.deepEqual([...got.tensors.keys()].sort(), [...fresh.tensors.keys()].sort())
      for (const [k, t] of fresh.tensors) assert.deepEqual(got.tensors.get(k), t, `${next.name} ${k} inPlace=${inPlace}`)
    }
  }
})
