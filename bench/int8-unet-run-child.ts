/**
 * What one UNet run with `--weights int8` adds over its session, without a checkpoint: `node --import tsx
 * bench/int8-unet-run-child.ts sd15|sdxl [LATENT]` builds the full-size UNet graph with every weight that
 * models/int8-keys.ts quantizes fed as int8 codes (views of one shared pool, so the weights themselves cost ~nothing),
 * runs it once at batch 2 on a small latent (default 16²) and prints {sessionMiB, runPeakMiB, addedMiB, cpuS} as JSON.
 * At a small latent the activations are negligible, so `addedMiB` is the dequantized weights alive at once
 * (BENCHMARKS.md "SDXL int8 memory (session 6)": 8.7 GiB before graph/node-order.ts, 0.4 GiB after, for SDXL).
 */
import { readFile } from 'node:fs/promises'
import { buildUnetGraph } from '../src/models/unet/unet-graph.ts'
import { unetTree } from '../src/models/unet/unet-tree.ts'
import { UNET_PREFIX } from '../src/models/config/unet-config.ts'
import { isInt8Weight } from '../src/models/int8-keys.ts'
import { GraphSession } from '../src/graph/session.ts'
import { paramKeys } from '../src/nn/module.ts'
import { resetPeakRss } from './machine.ts'
import { peakRssMb, xorshiftFill } from './section.ts'
import { SD15_CONFIG, SDXL_CONFIG } from './sections/unet.ts'

const [model, latentArg] = process.argv.slice(2)
const config = model === 'sdxl' ? SDXL_CONFIG : SD15_CONFIG
const latent = Number(latentArg ?? 16)
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

const keys = paramKeys(unetTree(config), UNET_PREFIX)
const shapes = new Map(keys.map((k) => [k.key, k.shape]))
const quantized = new Set(keys.filter((k) => isInt8Weight(k.key, k.shape)).map((k) => k.key))
const pool = Int8Array.from(xorshiftFill(Math.max(...[...quantized].map((k) => numel(shapes.get(k)!))), 3, 127), Math.round)
const floats = new Map(keys.filter((k) => !quantized.has(k.key)).map((k) => [k.key, xorshiftFill(numel(k.shape), 7, 0.05)]))
const codes = new Map([...quantized].map((k) => [k, { q: pool.subarray(0, numel(shapes.get(k)!)), scale: new Float32Array(shapes.get(k)![0]).fill(0.002) }]))
const weights = { get: (k: string) => floats.get(k)!, shape: (k: string) => shapes.get(k)!, int8: (k: string) => codes.get(k) }

const built = buildUnetGraph(config, { file: `random ${model} UNet`, has: (k) => shapes.has(k), shape: (k) => shapes.get(k)!, isInt8: (k) => quantized.has(k) })
const session = await GraphSession.create(built.graph, { weightKeys: built.weightKeys })
const sessionMiB = Number(/VmRSS:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'))?.[1]) / 1024
await resetPeakRss()
const B = 2
const inputs = {
  x: { shape: [B, config.inChannels, latent, latent], data: xorshiftFill(B * config.inChannels * latent * latent, 11, 1) },
  t: { shape: [B], data: new Float32Array(B).fill(500) },
  context: { shape: [B, 77, config.contextDim], data: xorshiftFill(B * 77 * config.contextDim, 13, 1) },
  ...(config.admInChannels > 0 ? { y: { shape: [B, config.admInChannels], data: xorshiftFill(B * config.admInChannels, 17, 1) } } : {}),
}
const cpu0 = process.cpuUsage()
await session.run(inputs, weights)
const cpu = process.cpuUsage(cpu0)
const runPeakMiB = await peakRssMb()
await session.release()
console.log(JSON.stringify({ model, latent, sessionMiB: Math.round(sessionMiB), runPeakMiB: Math.round(runPeakMiB), addedMiB: Math.round(runPeakMiB - sessionMiB), cpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)) }))
