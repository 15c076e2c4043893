/*
 * `sdloom generate` adapter errors and warnings from the real CLI: an SDXL LoRA on SD1 and an unknown <lora:NAME>
 * are one stderr line with a non-zero exit and nothing written; unmatched keys are a warning line (the image is
 * written), and an error with --strict.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeF32As, writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { TINY_SD1, errorLines, runSdloom } from './generate-cli.ts'

/** stderr lines that report (progress bars and Node's notices left out). */
const reportLines = (stderr: string): string[] => errorLines(stderr).filter((l) => /^(error|warning):|^LoRA /.test(l))

const FAST = ['--steps', '1', '--seed', '1', '--rng', 'cpu', '--width', '64', '--height', '64', '--tokenizer', TOKENIZER_DIR, '--model', TINY_SD1]

let root: string
let env: NodeJS.ProcessEnv
let stray: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sdloom-adapters-err-'))
  env = { SDLOOM_CACHE: join(root, 'cache') }
  stray = join(root, 'stray.safetensors')
  // A valid SD1 LoRA module (q_proj of text-encoder layer 0) beside one for a layer the model does not have.
  const t = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, data: encodeF32As('F32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01)) })
  await writeSafetensors(stray, [
    t('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', [2, 32]), t('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', [32, 2]),
    t('lora_te_text_model_encoder_layers_9_self_attn_q_proj.lora_down.weight', [2, 32]),
  ])
})
after(() => rm(root, { recursive: true, force: true }))

test('an SDXL LoRA on SD1, an unknown <lora:NAME>: one error line, non-zero exit, nothing written', async () => {
  const cases: [string[], number, string][] = [
    [['a cat', '--lora', ref('sdxl', 'adapters', 'tinyxl_lora.safetensors')], 1,
      'error: tinyxl_lora.safetensors: adapter "tinyxl_lora" is for SDXL but the base model is SD1.x: it has 24 modules with the prefix lora_te2_ '
      + '(SDXL\'s second text encoder, OpenCLIP bigG). Hint: load an SDXL checkpoint, or use an adapter made for SD1.x.'],
    [['a cat <lora:tinyloha_v2:1>', '--loras', ref('sd1', 'adapters')], 2,
      `error: <lora:tinyloha_v2>: no LoRA named "tinyloha_v2" in --loras ${ref('sd1', 'adapters')} (names are file stems, searched recursively); close names: tinyloha`],
  ]
  for (const [args, code, line] of cases) {
    const out = join(root, 'err')
    const r = await runSdloom(['generate', ...args, ...FAST, '--out', out], env)
    assert.deepEqual([r.code, reportLines(r.stderr), r.stdout], [code, [line], ''], args.join(' '))
    await assert.rejects(readdir(out), { code: 'ENOENT' })
  }
})

test('unmatched keys: a warning and the image; with --strict an error and no image', async () => {
  const out = join(root, 'warn')
  const r = await runSdloom(['generate', 'a cat', '--lora', `${stray}:0.5`, ...FAST, '--out', out], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(reportLines(r.stderr), [
    'LoRA stray (stray.safetensors): te 0.5, unet 0.5; patched 1 text-encoder and 0 UNet module(s)',
    'warning: LoRA "stray" (stray.safetensors): 1 key(s) match no layer of this SD1.x model and were ignored: '
      + '"lora_te_text_model_encoder_layers_9_self_attn_q_proj.lora_down.weight". Hint: --strict makes this an error.',
  ])
  assert.deepEqual(await readdir(out), ['00000-1.png'])
  const strict = await runSdloom(['generate', 'a cat', '--lora', stray, '--strict', ...FAST, '--out', join(root, 'strict')], env)
  assert.deepEqual([strict.code, reportLines(strict.stderr)], [1, [
    'error: stray.safetensors: --strict: 1 key(s) or module(s) of LoRA "stray" cannot be applied to this SD1.x model: '
    + '"lora_te_text_model_encoder_layers_9_self_attn_q_proj.lora_down.weight". Hint: run without --strict to apply the rest and see these as warnings.',
  ]])
  await assert.rejects(readdir(join(root, 'strict')), { code: 'ENOENT' })
})
