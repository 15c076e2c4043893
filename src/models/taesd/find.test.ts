import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../../core/errors.ts'
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
