/**
 * The sdloom web UI: tabs for txt2img, img2img, queue, history, PNG info and the model inspector; a theme switch; a
 * PNG dropped anywhere (but on img2img's picture box) shows its parameters. The catalog (models, samplers, library) is
 * loaded once and on "refresh". txt2img and img2img keep their own parameters, as in A1111.
 */
import { render } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, blobToBase64 } from './api.ts'
import { GenerateView } from './generate.tsx'
import { HistoryView } from './history.tsx'
import { Img2ImgView, toInitImage } from './img2img.tsx'
import { IMG2IMG_DEFAULTS, snapSize, type Img2ImgParams } from './img2img-params.ts'
import { InspectorView } from './inspector.tsx'
import { DEFAULTS, fromParameters, type GenParams } from './params.ts'
import { PngInfoView } from './png-info.tsx'
import { QueueView } from './queue.tsx'
import type { Catalog, LibraryEntry, PngInfo, Sampler, Scheduler, SdModel, SdVae } from './types.ts'
import './style.css'

const TABS = [['generate', 'txt2img'], ['img2img', 'img2img'], ['queue', 'Queue'], ['history', 'History'], ['png', 'PNG info'], ['inspect', 'Inspector']] as const
type Tab = typeof TABS[number][0]
const EMPTY: Catalog = { checkpoints: [], vaes: [], samplers: [], schedulers: [], library: [], tags: [], upscalers: [] }

async function loadCatalog(): Promise<Catalog> {
  const [checkpoints, vaes, samplers, schedulers, library, tags, latent, upscalers] = await Promise.all([
    api<SdModel[]>('/sdapi/v1/sd-models'), api<SdVae[]>('/sdapi/v1/sd-vae'), api<Sampler[]>('/sdapi/v1/samplers'),
    api<Scheduler[]>('/sdapi/v1/schedulers'), api<LibraryEntry[]>('/sdloom/v1/library'), api<[string, number][]>('/sdloom/v1/tags'),
    api<{ name: string }[]>('/sdapi/v1/latent-upscale-modes'), api<{ name: string }[]>('/sdapi/v1/upscalers'),
  ])
  // A1111's hires fix dropdown: latent modes first, then the upscalers ("None" is not one for hires fix)
  const hiresUpscalers = [...latent, ...upscalers].map((u) => u.name).filter((n) => n !== 'None')
  return { checkpoints, vaes, samplers, schedulers, library, tags, upscalers: hiresUpscalers }
}

// The lists are asked for while the bundle is still being evaluated, not after the first render.
let firstCatalog: Promise<Catalog> | undefined = loadCatalog()

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(() => localStorage.getItem('sdloom-theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'))
  useEffect(() => { document.documentElement.dataset.theme = theme; localStorage.setItem('sdloom-theme', theme) }, [theme])
  return [theme, () => setTheme(theme === 'dark' ? 'light' : 'dark')]
}

function App() {
  const [tab, setTabState] = useState<Tab>('generate')
  // A view is mounted the first time it is shown, then kept (its state survives switching tabs).
  const [visited, setVisited] = useState<ReadonlySet<Tab>>(new Set(['generate']))
  const setTab = (t: Tab): void => { setTabState(t); setVisited((v) => (v.has(t) ? v : new Set([...v, t]))) }
  const [theme, toggleTheme] = useTheme()
  const [catalog, setCatalog] = useState<Catalog>(EMPTY)
  const [loadError, setLoadError] = useState<string | undefined>()
  const [params, setParams] = useState<GenParams>(DEFAULTS)
  const [params2, setParams2] = useState<GenParams>(DEFAULTS)
  const [init, setInit] = useState<Img2ImgParams>(IMG2IMG_DEFAULTS)
  const [seedLocked, setSeedLocked] = useState(false)
  const [seedLocked2, setSeedLocked2] = useState(false)
  const [notice, setNotice] = useState<string | undefined>()
  const [notice2, setNotice2] = useState<string | undefined>()
  const [png, setPng] = useState<{ info?: PngInfo; error?: string }>({})
  const set = useCallback((patch: Partial<GenParams>) => setParams((p) => ({ ...p, ...patch })), [])
  const set2 = useCallback((patch: Partial<GenParams>) => setParams2((p) => ({ ...p, ...patch })), [])
  const patchInit = useCallback((patch: Partial<Img2ImgParams>) => setInit((p) => ({ ...p, ...patch })), [])

  const refresh = (): void => {
    const pending = firstCatalog ?? loadCatalog()
    firstCatalog = undefined
    pending.then((c) => {
      // The page is usable from here (the pickers have their lists); `npm run bench webui` reads this mark.
      if (performance.getEntriesByName('sdloom-ready').length === 0) performance.mark('sdloom-ready')
      setCatalog(c)
      setLoadError(undefined)
      const pick = (p: GenParams): GenParams => ({ ...p, checkpoint: p.checkpoint || c.checkpoints[0]?.title || '' })
      setParams(pick)
      setParams2(pick)
    }, (e: Error) => setLoadError(e.message))
  }
  useEffect(refresh, [])

  const readPng = async (blob: Blob): Promise<PngInfo> => api<PngInfo>('/sdapi/v1/png-info', { json: { image: await blobToBase64(blob) } })
  const restoredNotice = (notRestored: readonly string[]): string =>
    (notRestored.length > 0 ? `Parameters restored. Not restored: ${notRestored.join('; ')}` : 'Parameters restored.')
  const restore = (info: PngInfo): void => {
    const r = fromParameters(info.parameters, params, catalog, seedLocked)
    setParams(r.params)
    setNotice(restoredNotice(r.notRestored))
    setTab('generate')
  }
  const sendToGenerate = (url: string): void => {
    fetch(url).then((r) => r.blob()).then(readPng).then(restore, (e: Error) => setNotice(`Could not read the image's parameters: ${e.message}`))
  }
  // A1111's "send to img2img": the picture becomes the init image and its parameters fill the img2img form.
  const sendToImg2img = (url: string): void => {
    setTab('img2img')
    fetch(url).then((r) => r.blob()).then(async (blob) => {
      const [image, info] = await Promise.all([toInitImage(blob, url.split('/').slice(-3).join('-')), readPng(blob)])
      const r = fromParameters(info.parameters, params2, catalog, seedLocked2)
      setInit((p) => ({ ...p, image }))
      setParams2({ ...r.params, width: snapSize(image.width), height: snapSize(image.height) })
      setNotice2(restoredNotice(r.notRestored))
    }).catch((e: Error) => setNotice2(`Could not send the image to img2img: ${e.message}`))
  }
  const pickPng = (file: File): void => {
    setTab('png')
    readPng(file).then((info) => setPng({ info }), (e: Error) => setPng({ error: `${file.name}: ${e.message}` }))
  }
  useEffect(() => {
    const over = (e: DragEvent): void => { if (e.dataTransfer?.types.includes('Files')) e.preventDefault() }
    const drop = (e: DragEvent): void => {
      const f = e.dataTransfer?.files[0]
      if (!f) return
      e.preventDefault()
      pickPng(f)
    }
    addEventListener('dragover', over)
    addEventListener('drop', drop)
    return () => { removeEventListener('dragover', over); removeEventListener('drop', drop) }
  }, [])

  return (
    <>
      <header>
        <h1>sdloom</h1>
        <nav role="tablist" aria-label="Views">
          {TABS.map(([id, label]) => (
            <button type="button" role="tab" key={id} id={`tab-${id}`} aria-selected={tab === id} class={tab === id ? 'tab on' : 'tab'} onClick={() => setTab(id)}>{label}</button>
          ))}
        </nav>
        <div class="header-tools">
          <button type="button" onClick={refresh} title="Rescan the lists">Refresh</button>
          <button type="button" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>{theme === 'dark' ? '☀' : '☾'}</button>
        </div>
      </header>
      {loadError && <p class="error" role="alert">Could not load the model lists: {loadError}</p>}
      <main>
        {/* Views stay mounted once shown (a running job's progress and results survive a look at the history). */}
        <div role="tabpanel" aria-labelledby="tab-generate" hidden={tab !== 'generate'}>
          <GenerateView mode="txt2img" params={params} set={set} catalog={catalog} sendToPrompt={sendToGenerate} sendToImg2img={sendToImg2img}
            notice={notice} seedLocked={seedLocked} setSeedLocked={setSeedLocked} />
        </div>
        <div role="tabpanel" aria-labelledby="tab-img2img" hidden={tab !== 'img2img'}>{visited.has('img2img') && (
          <Img2ImgView init={init} setInit={patchInit} params={params2} set={set2} catalog={catalog} sendToPrompt={sendToGenerate} sendToImg2img={sendToImg2img}
            notice={notice2} seedLocked={seedLocked2} setSeedLocked={setSeedLocked2} />
        )}</div>
        <div role="tabpanel" aria-labelledby="tab-queue" hidden={tab !== 'queue'}>{visited.has('queue') && <QueueView />}</div>
        <div role="tabpanel" aria-labelledby="tab-history" hidden={tab !== 'history'}>{visited.has('history') && <HistoryView sendToGenerate={sendToGenerate} sendToImg2img={sendToImg2img} />}</div>
        <div role="tabpanel" aria-labelledby="tab-png" hidden={tab !== 'png'}>
          <PngInfoView info={png.info} error={png.error} pick={pickPng} restore={() => png.info && restore(png.info)} />
        </div>
        <div role="tabpanel" aria-labelledby="tab-inspect" hidden={tab !== 'inspect'}>{visited.has('inspect') && <InspectorView library={catalog.library} />}</div>
      </main>
    </>
  )
}

render(<App />, document.getElementById('app')!)
