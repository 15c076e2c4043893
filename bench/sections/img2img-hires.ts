/*
 * img2img, hires fix and ESRGAN at full size (issue #12), each case in its own process as `sdloom` runs it (oneShot),
 * on a random-weight SD1.5 checkpoint with the real layout (bench/txt2img-cases.ts) and a random full-size RRDBNet
 * (64 features, 32 growth, 23 blocks, ×4: RealESRGAN_x4plus's shape). Reported: CPU seconds (user + system; the
 * machine is shared, wall time is noise), peak RSS, denoiser calls, and the load average at the start of each case.
 *  - SD1.5 512² txt2img vs img2img at denoise 0.5, the same steps (Euler): A1111 runs int(0.5 · steps) steps for
 *    img2img, so its time should be about half plus the VAE encode;
 *  - 512→1024 hires fix with the Lanczos upscaler (decode 512², resize, tiled encode 1024², second pass at 1024²,
 *    tiled decode): peak RSS target <= 6 GB;
 *  - ESRGAN ×4 of a 512² picture (A1111's 192-pixel tiles, overlap 8) → 2048².
 * Env: SDLOOM_BENCH_I2I_CASES (comma list of txt2img,img2img,hires,esrgan, run in that order; default all), SDLOOM_BENCH_I2I_STEPS,
 * SDLOOM_BENCH_HIRES_STEPS (bench/img2img-hires-child.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { SD15_CASE } from '../txt2img-cases.ts'
import type { BenchRow, BenchSection } from '../section.ts'
import { tinyEsrgan, writeEsrganSafetensors } from '../../test/fixtures/tiny-esrgan.ts'

interface ChildResult { loadCpu: number; cpu: number; wall: number; peakGiB: number; calls: number; size: string }

const CASES = ['txt2img', 'img2img', 'hires', 'esrgan'] as const
type Case = (typeof CASES)[number]

async function child(kind: Case, file: string): Promise<ChildResult & { load: string }> {
  const load = loadavg().map((l) => l.toFixed(1)).join(' ')
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/img2img-hires-child.ts', kind, file], { maxBuffer: 1 << 24 })
  return { ...(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult), load }
}

const LABELS: Readonly<Record<Case, string>> = {
  txt2img: 'SD1.5 512² txt2img (Euler)',
  img2img: 'SD1.5 512² img2img, denoise 0.5 (Euler, same steps)',
  hires: 'SD1.5 512→1024 hires fix (Lanczos, denoise 0.5)',
  esrgan: 'ESRGAN ×4 (RRDBNet 23 blocks) of a 512² picture',
}

const row = (kind: Case, r: ChildResult & { load: string }): BenchRow => ({
  measure: LABELS[kind],
  value: `${r.cpu.toFixed(0)} CPU s; peak RSS ${r.peakGiB.toFixed(2)} GiB (${(r.peakGiB * 1.073741824).toFixed(2)} GB)`,
  note: `${kind === 'esrgan' ? 'load included' : `${r.calls} denoiser steps; load ${r.loadCpu.toFixed(0)} CPU s not counted`}; out ${r.size}; wall ${r.wall.toFixed(0)} s; load average ${r.load}`,
})

export const section: BenchSection = {
  title: 'img2img / hires / ESRGAN at full size (SD1.5 random fp32 weights; RRDBNet random weights)',
  async run() {
    const wanted = (process.env.SDLOOM_BENCH_I2I_CASES ?? CASES.join(',')).split(',') as Case[]
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-i2i-'))
    try {
      const rows: BenchRow[] = []
      const results = new Map<Case, ChildResult>()
      const sd = join(dir, 'sd15-random.safetensors')
      if (wanted.some((k) => k !== 'esrgan')) await SD15_CASE.write(sd)
      const esrgan = join(dir, 'RRDBNet_x4_random.safetensors')
      if (wanted.includes('esrgan')) await writeEsrganSafetensors(esrgan, tinyEsrgan({ features: 64, growth: 32, blocks: 23, upsamples: 2, unshuffle: 1, seed: 7 }))
      for (const kind of wanted) {
        if (!CASES.includes(kind)) throw new Error(`SDLOOM_BENCH_I2I_CASES: unknown case "${kind}" (${CASES.join(', ')})`)
        const r = await child(kind, kind === 'esrgan' ? esrgan : sd)
        results.set(kind, r)
        rows.push(row(kind, r))
        console.error(JSON.stringify({ kind, ...r }))             // each case as it ends (a long run may be cut short)
      }
      const t = results.get('txt2img')
      const i = results.get('img2img')
      if (t && i) {
        rows.push({ measure: 'img2img / txt2img CPU time (same run)', value: (i.cpu / t.cpu).toFixed(2), note: `denoiser steps ${i.calls} / ${t.calls}` })
      }
      return rows
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
