/**
 * A1111's list and refresh routes (a1111-api.md §2, §8), answered from the model library and the sampler registry.
 * Features sdloom lacks answer empty lists, not 404: aiyabot and others iterate them.
 */
import { freemem, totalmem } from 'node:os'
import type { FastifyInstance } from 'fastify'
import type { LibraryEntry } from '../../library/library-db.ts'
import { checkpointModelName, checkpointTitle, loraAlias, networkName, vaeModelName } from '../../library/names.ts'
import { SAMPLERS, SCHEDULERS } from '../../sampling/index.ts'
import type { ServerContext } from '../context.ts'
import { LibraryResolver } from '../library-resolver.ts'

const LATENT_UPSCALE_MODES = ['Latent', 'Latent (antialiased)', 'Latent (bicubic)', 'Latent (bicubic antialiased)', 'Latent (nearest)', 'Latent (nearest-exact)']

const usable = (entries: readonly LibraryEntry[]): LibraryEntry[] => entries.filter((e) => e.error === undefined)

export const sdModelItem = (e: LibraryEntry) => ({
  title: checkpointTitle(e), model_name: checkpointModelName(e), hash: e.sha256?.slice(0, 10) ?? null, sha256: e.sha256 ?? null, filename: e.file, config: null,
})

function samplers() {
  return Object.values(SAMPLERS).map((s) => ({
    name: s.label, aliases: [...s.aliases, ...(s.comfy ? [s.comfy] : [])], options: s.kind === 'k-diffusion' && s.defaultScheduler !== 'own' ? { scheduler: s.defaultScheduler } : {},
  }))
}

function schedulers() {
  return Object.entries(SCHEDULERS).map(([name, s]) => ({
    name, label: s.label, aliases: 'aliases' in s ? [...s.aliases] : null, default_rho: name === 'karras' ? 7 : name === 'polyexponential' ? 1 : -1, need_inner_model: false,
  }))
}

/** A1111's embedding item; shape is the vector width (768 SD1, 1024 SD2, 2048 SDXL clip_l + clip_g). */
function embeddingItem(e: LibraryEntry) {
  const dims = e.inspect?.dims ?? []
  return { step: null, sd_checkpoint: null, sd_checkpoint_name: null, shape: dims.reduce((a, b) => a + b, 0), vectors: e.inspect?.vectors ?? 0 }
}

export function a1111ListRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const lib = ctx.library
  const refresh = async (): Promise<null> => { await lib.scan(); return null }
  app.get('/sdapi/v1/sd-models', async () => usable(lib.list('checkpoint')).map(sdModelItem))
  app.get('/sdapi/v1/sd-vae', async () => usable(lib.list('vae')).map((e) => ({ model_name: vaeModelName(e), filename: e.file })))
  app.get('/sdapi/v1/loras', async () => usable(lib.list('lora')).map((e) => ({ name: networkName(e), alias: loraAlias(e), path: e.file, metadata: e.inspect?.metadata ?? {} })))
  app.get('/sdapi/v1/embeddings', async () => {
    const all = lib.list('embedding')
    return {
      loaded: Object.fromEntries(usable(all).map((e) => [networkName(e), embeddingItem(e)])),
      skipped: Object.fromEntries(all.filter((e) => e.error !== undefined).map((e) => [networkName(e), embeddingItem(e)])),
    }
  })
  for (const r of ['refresh-checkpoints', 'refresh-vae', 'refresh-loras', 'refresh-embeddings']) app.post(`/sdapi/v1/${r}`, refresh)
  app.get('/sdapi/v1/samplers', async () => samplers())
  app.get('/sdapi/v1/schedulers', async () => schedulers())
  // A1111's built-ins, then the ESRGAN-family files of models/ESRGAN and models/RealESRGAN (hr_upscaler runs them all)
  app.get('/sdapi/v1/upscalers', async () => [
    ...['None', 'Lanczos', 'Nearest'].map((name) => ({ name, model_name: null, model_path: null, model_url: null, scale: 4 })),
    ...(await new LibraryResolver(lib).upscalers()).map((u) => ({ name: u.name, model_name: u.name, model_path: u.file, model_url: null, scale: 4 })),
  ])
  app.get('/sdapi/v1/latent-upscale-modes', async () => LATENT_UPSCALE_MODES.map((name) => ({ name })))
  app.get('/sdapi/v1/prompt-styles', async () => ctx.styles())
  for (const r of ['hypernetworks', 'face-restorers', 'realesrgan-models', 'script-info', 'extensions']) app.get(`/sdapi/v1/${r}`, async () => [])
  app.get('/sdapi/v1/scripts', async () => ({ txt2img: [], img2img: [] }))
  app.get('/sdapi/v1/cmd-flags', async () => ctx.cmdFlags)
  app.get('/sdapi/v1/memory', async () => {
    const total = totalmem()
    const free = freemem()
    return { ram: { free, used: total - free, total }, cuda: { error: 'sdloom runs on the CPU; there is no CUDA memory to report' } }
  })
  app.get('/internal/ping', async () => ({}))
  app.get('/sdloom/v1/library', async (req) => {
    const kind = (req.query as { kind?: string }).kind
    return lib.list(kind === 'checkpoint' || kind === 'lora' || kind === 'vae' || kind === 'embedding' ? kind : undefined)
      .map(({ sidecarSig: _s, ...e }) => e)
  })
  app.post('/sdloom/v1/library/refresh', async () => lib.scan())
}
