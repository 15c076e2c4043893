/*
 * End-to-end txt2img peak memory at full SD1.5 size, as `sdloom generate` runs it (oneShot: weights dropped once no
 * later phase needs them) and as a library caller keeping the model for later runs. Random fp32 weights written to
 * a temp file (deleted after); Euler, 2 steps, CFG, exact VAE decode at 512². Target (issue #3): peak RSS <= 5 GB.
 * A third run applies a rank-128 LoRA on 280 UNet layers first, as `sdloom generate --lora` does (merged in place).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SD15_CASE } from '../txt2img-cases.ts'
import type { BenchRow, BenchSection } from '../section.ts'
import { RANK, writeLora } from './adapters-pipeline.ts'

/** Each run in its own process, so the peak is that run's alone (not the checkpoint writer's leftovers). */
async function run(file: string, mode: 'oneShot' | 'kept', lora?: string): Promise<BenchRow> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/txt2img-e2e-child.ts', file, mode, ...(lora ? [lora] : [])])
  const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { peakGiB: number; s: number }
  return {
    measure: `SD1.5 512² txt2img, 2 steps, ${mode === 'oneShot' ? 'oneShot (sdloom generate)' : 'model kept loaded'}${lora ? ` + rank-${RANK} LoRA on 280 UNet layers` : ''}: peak RSS`,
    value: `${r.peakGiB.toFixed(2)} GiB (${(r.peakGiB * 1.073741824).toFixed(2)} GB)`, note: `whole process incl. load; ${r.s.toFixed(1)} s ${lora ? "LoRA apply + " : ""}sampling + decode`,
  }
}

export const section: BenchSection = {
  title: 'txt2img end to end: peak memory (full-size SD1.5, random fp32 weights)',
  async run() {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-e2e-'))
    try {
      const file = join(dir, 'sd15-random.safetensors')
      await SD15_CASE.write(file)
      const lora = join(dir, 'lora.safetensors')
      await writeLora(lora, 1)
      return [await run(file, 'oneShot'), await run(file, 'kept'), await run(file, 'oneShot', lora)]
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
