/**
 * One img2img / hires / ESRGAN case in a fresh process (so its peak RSS is its own), as `sdloom` runs it (oneShot):
 * `node --import tsx bench/img2img-hires-child.ts CASE FILE` with CASE txt2img | img2img | hires | esrgan, prints
 * {loadCpu, cpu, wall, peakGiB, calls, size} as JSON (cpu = this process's user + system seconds after loading).
 * Steps from the environment: SDLOOM_BENCH_I2I_STEPS (txt2img/img2img, default 4), SDLOOM_BENCH_HIRES_STEPS
 * ("first,second", default "2,1"). Used by bench/sections/img2img-hires.ts.
 */
import { loadModel } from '../src/pipeline/load-model.ts'
import { txt2img } from '../src/pipeline/txt2img.ts'
import { img2img } from '../src/pipeline/img2img.ts'
import { txt2imgHires } from '../src/pipeline/hires.ts'
import { modelUpscaler } from '../src/pipeline/model-upscalers.ts'
import { newRaster, type Raster } from '../src/image/raster.ts'
import { createClipTokenizer } from '../src/prompt/index.ts'
import { TOKENIZER_DIR } from '../test/golden.ts'
import { peakRssMb } from './section.ts'

const [kind, file] = process.argv.slice(2)
const steps = Number(process.env.SDLOOM_BENCH_I2I_STEPS ?? 4)
const [firstSteps, hiresSteps] = (process.env.SDLOOM_BENCH_HIRES_STEPS ?? '2,1').split(',').map(Number)
const cpuSeconds = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6

/** A smooth 512² RGB picture (an init image with structure, not noise). */
function picture(side: number): Raster {
  const img = newRaster(side, side, 3)
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) img.data[(y * side + x) * 3 + c] = Math.round(127.5 + 120 * Math.sin(x * 0.03 + c) * Math.cos(y * 0.02 - c))
    }
  }
  return img
}

const base = { prompt: 'a photo of a cat', negativePrompt: 'blurry', sampler: 'Euler', seed: 1, width: 512, height: 512, tokenizer: createClipTokenizer(TOKENIZER_DIR) }
let calls = 0
const opts = { oneShot: true, onProgress: () => { calls++ } }
const c0 = process.cpuUsage()
let loadCpu = 0
const t0 = performance.now()
let size = ''
if (kind === 'esrgan') {
  const up = modelUpscaler({ name: 'RRDBNet 23 blocks (random)', file })
  const out = await up.step(picture(512), 4)
  size = `${out.width}x${out.height}`
  await up.release()
} else {
  const model = await loadModel(file, { vaeEncoder: kind !== 'txt2img' })
  loadCpu = cpuSeconds(process.cpuUsage(c0))
  const [img] = kind === 'txt2img' ? await txt2img(model, { ...base, steps }, opts)
    : kind === 'img2img' ? await img2img(model, { ...base, steps, init: picture(512), denoisingStrength: 0.5 }, opts)
      : await txt2imgHires(model, { ...base, steps: firstSteps, hires: { scale: 2, upscaler: 'Lanczos', steps: hiresSteps, denoisingStrength: 0.5 } }, opts)
  size = `${img.image.shape[3]}x${img.image.shape[2]}`
  await model.release()
}
const wall = (performance.now() - t0) / 1000
console.log(JSON.stringify({ loadCpu, cpu: cpuSeconds(process.cpuUsage(c0)) - loadCpu, wall, peakGiB: (await peakRssMb()) / 1024, calls, size }))
