/**
 * Shared set-up of the server tests: a temp data folder, the tiny reference models as an A1111 root, a server on a
 * free loopback port. `scriptedEngine` is a test double of EngineApi whose steps take a set time, for the tests of
 * queueing, progress and interrupts that must not depend on model speed; generation itself is tested against the
 * real engine.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EngineApi, EngineEvent, GenerationRequest, GenerationResult, GeneratedImage } from '../../src/engine/contract.ts'
import { formatInfotext } from '../../src/image/infotext.ts'
import { startServer, type RunningServer, type ServeConfig } from '../../src/server/start.ts'
import { makeA1111Root } from '../fixtures/server-a1111-root.ts'

export interface TestServer extends RunningServer {
  readonly dir: string
  readonly root: string
  readonly logs: string[]
  fetchJson(path: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: any; headers: Headers }>
  dispose(): Promise<void>
}

export async function startTestServer(opts: Partial<ServeConfig> & { extraFiles?: Record<string, string | Uint8Array>; dir?: string } = {}): Promise<TestServer> {
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'sdloom-server-'))
  const root = join(dir, 'a1111')
  if (!opts.dir) await makeA1111Root(root, opts.extraFiles)
  const logs: string[] = []
  const server = await startServer({
    dataDir: join(dir, 'data'), modelRoots: [root], port: 0, watch: false, createEngine: () => scriptedEngine(), log: (l) => logs.push(l), ...opts,
  })
  const fetchJson: TestServer['fetchJson'] = async (path, init = {}) => {
    const { json, ...rest } = init
    const res = await fetch(`${server.url}${path}`, {
      ...rest, ...(json !== undefined ? { body: JSON.stringify(json), method: rest.method ?? 'POST' } : {}),
      headers: { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(rest.headers as Record<string, string> | undefined) },
    })
    const text = await res.text()
    let body: unknown = text
    try { body = JSON.parse(text) } catch { /* not JSON: the text itself */ }
    return { status: res.status, body, headers: res.headers }
  }
  return { ...server, dir, root, logs, fetchJson, dispose: async () => { await server.close(); if (!opts.dir) await rm(dir, { recursive: true, force: true }) } }
}

/** A test double of the Engine: `stepMs` per step, a preview every `previewEvery` steps, flat images coloured by seed. */
export function scriptedEngine(stepMs = 20): EngineApi & { requests: GenerationRequest[] } {
  const requests: GenerationRequest[] = []
  return {
    requests,
    async generate(r, { signal, onEvent } = {}): Promise<GenerationResult> {
      requests.push(r)
      const emit = (e: EngineEvent): void => onEvent?.(e)
      const [w, h, steps, n] = [r.width ?? 512, r.height ?? 512, r.steps ?? 20, r.batchSize ?? 1]
      const images: GeneratedImage[] = []
      for (let s = 1; s <= steps; s++) {
        await new Promise((res) => setTimeout(res, stepMs))
        signal?.throwIfAborted()
        const preview = r.previewEvery && s % r.previewEvery === 0 ? { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(s) } : undefined
        emit({ type: 'step', batch: 0, batchCount: 1, step: s, steps, secondsPerStep: stepMs / 1000, etaSeconds: (steps - s) * stepMs / 1000, ...(preview ? { preview } : {}) })
      }
      for (let i = 0; i < n; i++) {
        const seed = (r.seed ?? 0) + i
        const info = { prompt: r.prompt, negativePrompt: r.negativePrompt, steps, sampler: r.sampler ?? 'Euler a', cfgScale: r.cfgScale ?? 7, seed, width: w, height: h }
        const image: GeneratedImage = { index: i, seed, rgb: { width: w, height: h, data: new Uint8Array(w * h * 3).fill(seed % 256) }, infotext: formatInfotext(info), info }
        images.push(image)
        emit({ type: 'image', image })
      }
      return { images, model: { file: r.model, arch: 'sd1', prediction: 'eps' }, warnings: [] }
    },
    async loadedModels() { return [] },
    async unload() {},
    async close() {},
  }
}
