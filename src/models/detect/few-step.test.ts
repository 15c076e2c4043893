import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSafetensors } from '../../formats/safetensors.ts'
import { tinyCheckpoint } from '../../../test/fixtures/tiny-files.ts'
import { tinyLora, type AdapterModule } from '../../../test/fixtures/tiny-adapters.ts'
import { identifyModel, type Identification } from './index.ts'
import { detectFewStep, fewStepLine } from './few-step.ts'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'sdloom-fewstep-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

async function identify(name: string, write: (file: string) => Promise<unknown>): Promise<Identification> {
  const file = join(dir, name)
  await write(file)
  const src = await openSafetensors(file)
  try { return identifyModel(src) } finally { await src.close() }
}

// LCM-LoRA's key set (latent-consistency/lcm-lora-sdv1-5, kohya names): attention and FF Linears, but also every
// ResNet conv, its time_emb_proj and the down/up samplers' convs, UNet only.
const LCM_MODULES: readonly AdapterModule[] = [
  { kohya: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', path: '', out: 8, in: 8 },
  { kohya: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2', path: '', out: 8, in: 32 },
  { kohya: 'lora_unet_down_blocks_0_resnets_0_conv1', path: '', out: 8, in: 8, kernel: 3 },
  { kohya: 'lora_unet_down_blocks_0_resnets_0_time_emb_proj', path: '', out: 8, in: 32 },
  { kohya: 'lora_unet_down_blocks_0_downsamplers_0_conv', path: '', out: 8, in: 8, kernel: 3 },
  { kohya: 'lora_unet_up_blocks_1_upsamplers_0_conv', path: '', out: 16, in: 16, kernel: 3 },
]

test('an LCM-LoRA (its key names, its file name) is a supported SD1 LoRA with the LCM hint', async () => {
  const r = await identify('lcm-lora-sdv1-5.safetensors', (f) => tinyLora(f, { modules: LCM_MODULES, rank: 4 }))
  assert.ok(r.kind === 'lora')
  assert.deepEqual(r.lora.unrecognizedKeys, [])
  assert.equal(r.lora.moduleCount, LCM_MODULES.length)
  assert.equal(r.fewStep?.id, 'lcm')
  assert.equal(fewStepLine(r.fewStep), 'LCM (latent consistency): 4 (2–8) steps, CFG 1–2 (1: no negative prompt), sampler LCM; '
    + 'an LCM-LoRA goes at weight 1.0 on its base family (SD1.5 or SDXL) [file name "lcm-lora-sdv1-5.safetensors"]')
})

test('Turbo, Lightning and Hyper-SD checkpoints and LoRAs: by file name or metadata, steps from the name', async () => {
  const turbo = await identify('sd_xl_turbo_1.0_fp16.safetensors', (f) => tinyCheckpoint(f, { family: 'sdxl' }))
  assert.equal(turbo.architecture.id, 'sdxl-base')
  assert.deepEqual([turbo.fewStep?.id, turbo.fewStep?.settings.steps, turbo.fewStep?.settings.cfg], ['turbo', '1–4', '1 (guidance off: no negative prompt)'])
  const lightning = await identify('model.safetensors', (f) => tinyLora(f, { metadata: { 'modelspec.title': 'SDXL-Lightning 4-step LoRA' } }))
  assert.deepEqual([lightning.fewStep?.id, lightning.fewStep?.distilledSteps, lightning.fewStep?.evidence],
    ['lightning', 4, 'metadata modelspec.title "SDXL-Lightning 4-step LoRA"'])
  assert.equal(lightning.fewStep?.settings.sampler, 'Euler, trailing timesteps (A1111: Euler with SGM Uniform)')
  const hyper = detectFewStep('/m/Hyper-SDXL-8steps-CFG-lora.safetensors', {})
  assert.deepEqual([hyper?.id, hyper?.distilledSteps, hyper?.settings.cfg], ['hyper-sd', 8, '5–8 (a CFG-preserving variant)'])
  assert.equal(detectFewStep('/m/Hyper-SD15-1step-lora.safetensors', {})?.settings.sampler, 'TCD (eta 1.0) or LCM')
  // a LoRA trained on a Turbo base says so
  assert.equal(detectFewStep('/m/style.safetensors', { ss_sd_model_name: 'sd_turbo.safetensors' })?.evidence,
    'metadata ss_sd_model_name "sd_turbo.safetensors" (the base it was trained on)')
})

test('ordinary names carry no hint (no false match on words that merely contain the letters)', async () => {
  const plain = await identify('v1-5-pruned-emaonly.safetensors', (f) => tinyCheckpoint(f, { family: 'sd1' }))
  assert.equal(plain.fewStep, undefined)
  for (const name of ['clcmodel.safetensors', 'dreamshaper_8.safetensors', 'realisticVision.ckpt']) assert.equal(detectFewStep(name, {}), undefined, name)
  assert.equal(detectFewStep('LCM_Dreamshaper_v7.safetensors', {})?.id, 'lcm')
})
