/*
 * The CLI runs the goldens' own command lines (JSON `cli`, paths relative to the golden folder): `sdloom img2img`
 * for an "only masked" fill inpainting and `sdloom generate --hires-*` with the Lanczos upscaler; the PNG on disk
 * matches A1111's within the README's tolerance. Bad img2img input is one clear error.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readImage } from '../../src/image/read-image.ts'
import { TOKENIZER_DIR, ref } from '../golden.ts'
import { errorLines, runSdloom } from './generate-cli.ts'
import { modeEntries } from './mode-goldens.ts'
import { maxByteDiff } from './pipeline-goldens.ts'

const cases = [['inpaint', 'masked_fill_euler_a_d075', 2], ['hires', 'lanczos_dpmpp2mk_hr3', 1]] as const

for (const [folder, name, tol] of cases) {
  test(`CLI: the golden's command line (${folder}/${name}) writes A1111's PNG`, async () => {
    const e = modeEntries(folder).find((x) => x.name === name)
    assert.ok(e)
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-i2i-'))
    try {
      const out = join(dir, 'out.png')
      const args = (e as unknown as { cli: string[] }).cli.slice(1)
        .map((a, i, all) => (['--model', '--vae', '--init', '--mask'].includes(all[i - 1]) ? ref('sd1', folder, a) : a))
      const r = await runSdloom([...args, '--out', out, '--tokenizer', TOKENIZER_DIR], {})
      assert.equal(r.code, 0, r.stderr)
      const got = await readImage(out)
      const png = await readImage(ref('sd1', folder, `${name}.png`))
      assert.deepEqual([got.width, got.height], [png.width, png.height])
      assert.ok(maxByteDiff(got.data, png.data) <= tol, `${name}: off by ${maxByteDiff(got.data, png.data)}`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
}

test('CLI: img2img without --init, and inpainting flags without --mask, are one-line errors', async () => {
  const a = await runSdloom(['img2img', 'a cat', '--model', ref('sd1', 'tiny-sd1.safetensors')], {})
  assert.equal(a.code, 2)
  assert.deepEqual(errorLines(a.stderr), ['error: img2img needs --init FILE (the picture to start from). See: sdloom img2img --help'])
  const b = await runSdloom(['img2img', 'a cat', '--init', ref('sd1', 'img2img', 'init.png'), '--mask-blur', '2'], {})
  assert.equal(b.code, 2)
  assert.deepEqual(errorLines(b.stderr), ['error: the inpainting options need --mask FILE (white = the area to repaint).'])
})
