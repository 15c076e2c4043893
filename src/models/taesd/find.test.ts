import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../../core/errors.ts'
import { cheapApproximation, CHEAP_APPROX_COEFFS } from './cheap-approx.ts'
import { findTaesd } from './find.ts'

test('findTaesd looks in models/VAE-approx (A1111) then models/vae_approx (ComfyUI), per family and part', () => {
  const root = mkdtempSync(join(tmpdir(), 'taesd-find-'))
  try {
    assert.equal(findTaesd({ family: 'sd', part: 'decoder', roots: [root] }), undefined)
    mkdirSync(join(root, 'models', 'vae_approx'), { recursive: true })
    mkdirSync(join(root, 'models', 'VAE-approx'), { recursive: true })
    writeFileSync(join(root, 'models', 'vae_approx', 'taesdxl_decoder.safetensors'), '')
    writeFileSync(join(root, 'models', 'vae_approx', 'taesd_decoder.pth'), '')
    writeFileSync(join(root, 'models', 'VAE-approx', 'taesd_decoder.pt'), '')
    assert.equal(findTaesd({ family: 'sdxl', part: 'decoder', roots: [root] }), join(root, 'models', 'vae_approx', 'taesdxl_decoder.safetensors'))
    assert.equal(findTaesd({ family: 'sd', part: 'decoder', roots: [root] }), join(root, 'models', 'VAE-approx', 'taesd_decoder.pt'))
    assert.equal(findTaesd({ family: 'sd', part: 'encoder', roots: [root] }), undefined)
    const given = join(root, 'models', 'vae_approx', 'taesd_decoder.pth')
    assert.equal(findTaesd({ family: 'sdxl', part: 'decoder', file: given }), given)
    assert.throws(() => findTaesd({ family: 'sd', part: 'decoder', file: join(root, 'nope.pth') }),
      new InputError(`--taesd: ${join(root, 'nope.pth')} is not a file. Hint: give a taesd_decoder.pth or .safetensors file.`))
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('cheap approximation: each latent channel contributes its coefficient row to every RGB pixel', () => {
  for (const family of ['sd', 'sdxl'] as const) {
    // pixel p of a 1×2 latent holds channel p one-hot (×2 at pixel 1) plus channel 3 = -1 at pixel 0
    const latent = { shape: [1, 4, 1, 2], data: new Float32Array([1, 0, 0, 2, 0, 0, -1, 0]) }
    const out = cheapApproximation(latent, family)
    assert.deepEqual(out.shape, [1, 3, 1, 2])
    const c = CHEAP_APPROX_COEFFS[family]
    for (let r = 0; r < 3; r++) {
      assert.ok(Math.abs(out.data[r * 2] - (c[0][r] - c[3][r])) < 1e-6)
      assert.ok(Math.abs(out.data[r * 2 + 1] - 2 * c[1][r]) < 1e-6)
    }
  }
  assert.throws(() => cheapApproximation({ shape: [1, 3, 2, 2], data: new Float32Array(12) }, 'sd'),
    new InputError('cheap latent preview: expected a latent [B, 4, h, w], got [1, 3, 2, 2]'))
})
