/*
 * Full CLI runs with A1111 1.10 samplers, hidden-case style: `sdloom generate` on the tiny SD1 model writes the
 * samplers2 golden PNG (±1) and A1111's infotext fields (Sampler, Schedule type, …). Two runs: a Brownian-tree SDE
 * sampler under its Automatic schedule, and an ancestral second-order sampler named the 1.8 way ("DPM2 a Karras").
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPng } from '../../src/image/png.ts'
import { parseInfotext } from '../../src/image/infotext.ts'
import { readRefJson, ref } from '../golden.ts'
import { DONE_WHEN, TINY_SD1, runSdloom } from './generate-cli.ts'
import { maxByteDiff } from './pipeline-goldens.ts'

interface Entry { key: string; seed: number; height: number; width: number; infotext_fields: Record<string, string | number> }
const ENTRIES = readRefJson<{ samplers: Entry[] }>('sd1', 'samplers2', 'samplers2_goldens.json').samplers

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'sdloom-samplers-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

const base = DONE_WHEN.slice(0, DONE_WHEN.indexOf('--sampler'))
const tokenizer = DONE_WHEN.slice(DONE_WHEN.indexOf('--tokenizer'))

for (const [key, sampler] of [['sample.dpmpp_2m_sde.64x64', 'DPM++ 2M SDE'], ['sample.dpm2_a.h96w64', 'DPM2 a Karras']] as const) {
  test(`sdloom generate --sampler "${sampler}" writes ${key}.png (±1) with A1111's infotext fields`, async () => {
    const e = ENTRIES.find((x) => x.key === key)!
    const out = join(root, `${key}.png`)
    const r = await runSdloom([...base, '--sampler', sampler, '--steps', '8', '--cfg', '7', '--seed', String(e.seed), '--rng', 'cpu',
      '--width', String(e.width), '--height', String(e.height), ...tokenizer, '--model', TINY_SD1, '--out', out], { SDLOOM_CACHE: join(root, 'cache') })
    assert.equal(r.code, 0, r.stderr)
    const png = await readPng(out)
    assert.ok(maxByteDiff(png.data, (await readPng(ref('sd1', 'samplers2', `${key}.png`))).data) <= 1, 'PNG off by more than 1')
    const fields = parseInfotext(png.text.parameters).fields
    for (const [k, v] of Object.entries(e.infotext_fields)) assert.equal(fields[k], String(v), k)
  })
}
