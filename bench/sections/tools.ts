/**
 * The DreamBooth ↔ LoRA tools on full-size SD1.5 files with random weights (written to a temp folder, deleted after):
 * two fp16 SD1.5-layout checkpoints (UNet, VAE, CLIP-L: 1.07 B parameters, ≈2.1 GB each, as the pruned fp16 files
 * most users merge) and a rank-128 kohya LoRA of every attention/feed-forward and text-encoder layer.
 *   merge    `sdloom merge A B` (weighted sum): wall time vs `cat A B > /dev/null` (best of two, before and after),
 *            and peak RSS of the whole process;
 *   extract  `sdloom lora extract --rank 64`: wall time, peak RSS;
 *   resize   `sdloom lora resize --rank 32` and `--dynamic sv_fro --param 0.9` of the rank-128 LoRA.
 * Each tool runs as a child process through the CLI (GNU time reports its peak RSS).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sdloomChild, xorshiftFill, type BenchRow, type BenchSection } from '../section.ts'
import { hfClipSpecs, unetSpecs, vaeSpecs, SD1_UNET, type TensorSpec } from '../../test/fixtures/tiny-layouts.ts'
import { encodeF32As, writeSafetensors } from '../../src/formats/safetensors-writer.ts'
import { extractTargets } from '../../src/tools/lora-targets.ts'
import { writeLoraFile, type LoraModule } from '../../src/tools/lora-file.ts'

const sd15Specs = (): TensorSpec[] => [
  ...unetSpecs(SD1_UNET, 'model.diffusion_model.', 'F16'),
  ...vaeSpecs(128, 'first_stage_model.', 'F16'),
  ...hfClipSpecs(768, 12, 'cond_stage_model.transformer.text_model.', 'F16'),
]
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

async function writeRandomCheckpoint(file: string, specs: readonly TensorSpec[], seed: number): Promise<void> {
  await writeSafetensors(file, specs.map((s, i) => ({ ...s, data: async () => encodeF32As('F16', xorshiftFill(count(s.shape), seed * 7919 + i, 0.05)) })))
}

async function writeRank128Lora(file: string, specs: readonly TensorSpec[]): Promise<number> {
  const shapes = new Map(specs.map((s) => [s.name, s.shape]))
  const modules: LoraModule[] = extractTargets([...shapes.keys()], (k) => shapes.get(k)!, 'sd1', { conv: false }).map((t, i) => {
    const shape = shapes.get(t.key)!
    const inner = count(shape) / shape[0]
    const rank = 128
    return { name: t.name, up: xorshiftFill(shape[0] * rank, 3 * i + 1, 0.05), down: xorshiftFill(rank * inner, 3 * i + 2, 0.05), out: shape[0], rank, inner, alpha: rank, downShape: [rank, ...shape.slice(1)] }
  })
  await writeLoraFile(file, modules, { dtype: 'F16', metadata: { ss_network_module: 'networks.lora', ss_network_dim: '128', ss_network_alpha: '128' } })
  return modules.length
}


function catSeconds(files: readonly string[]): number {
  const t = performance.now()
  const r = spawnSync('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > /dev/null`])
  if (r.status !== 0) throw new Error('cat failed')
  return (performance.now() - t) / 1000
}

const loadavg = (): string => spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ')

export const section: BenchSection = {
  title: 'Model tools: merge, LoRA extract and resize on full-size SD1.5 files',
  async run(): Promise<BenchRow[]> {
    const dir = await mkdtemp(join(tmpdir(), 'sdloom-bench-tools-'))
    const env = { ...process.env, SDLOOM_CACHE: join(dir, 'cache') }
    try {
      const specs = sd15Specs()
      const [a, b] = [join(dir, 'a.safetensors'), join(dir, 'b.safetensors')]
      await writeRandomCheckpoint(a, specs, 1)
      await writeRandomCheckpoint(b, specs, 2)
      const gb = ((await stat(a)).size + (await stat(b)).size) / 1e9
      const catFirst = catSeconds([a, b])
      const merge = sdloomChild(['merge', a, b, '--alpha', '0.4', '--out', join(dir, 'merged.safetensors')], env)
      const cat = Math.min(catFirst, catSeconds([a, b]))
      const loadMerge = loadavg()
      const extract = sdloomChild(['lora', 'extract', '--tuned', a, '--base', b, '--rank', '64', '--out', join(dir, 'extracted.safetensors')], env)
      const loadExtract = loadavg()
      const lora = join(dir, 'rank128.safetensors')
      const modules = await writeRank128Lora(lora, specs)
      const loraMb = (await stat(lora)).size / 1e6
      const resize = sdloomChild(['lora', 'resize', lora, '--rank', '32', '--out', join(dir, 'rank32.safetensors')], env)
      const dynamic = sdloomChild(['lora', 'resize', lora, '--dynamic', 'sv_fro', '--param', '0.9', '--out', join(dir, 'fro.safetensors')], env)
      const loadResize = loadavg()
      const extractedMb = (await stat(join(dir, 'extracted.safetensors'))).size / 1e6
      return [
        { measure: 'inputs', value: `2 × ${(gb / 2).toFixed(2)} GB fp16 SD1.5 (${specs.length} tensors each)`, note: `cat A B > /dev/null: ${cat.toFixed(1)} s (${(gb / cat).toFixed(2)} GB/s, page cache warm)` },
        { measure: 'merge weighted sum', value: `${merge.wall.toFixed(1)} s, peak RSS ${merge.rssMb.toFixed(0)} MB`, note: `${(merge.wall / cat).toFixed(1)}× cat; includes SHA-256 of both inputs for the recipe; load ${loadMerge}` },
        { measure: 'lora extract rank 64', value: `${extract.wall.toFixed(1)} s, peak RSS ${extract.rssMb.toFixed(0)} MB`, note: `output ${extractedMb.toFixed(0)} MB fp16; load ${loadExtract}` },
        { measure: 'lora resize 128 → 32', value: `${resize.wall.toFixed(1)} s, peak RSS ${resize.rssMb.toFixed(0)} MB`, note: `${modules} modules, input ${loraMb.toFixed(0)} MB` },
        { measure: 'lora resize sv_fro 0.9', value: `${dynamic.wall.toFixed(1)} s, peak RSS ${dynamic.rssMb.toFixed(0)} MB`, note: `load ${loadResize}` },
      ]
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
}
