/** The human-readable card `sdloom inspect` prints for one file. */
import { fewStepLine } from '../models/detect/few-step.ts'
import { basename } from 'node:path'
import type { ComponentsReport, LoraReport, TextEncoderConfig } from '../models/detect/index.ts'
import type { MetadataReport } from '../models/detect/metadata.ts'
import type { ModelReport } from './inspect.ts'

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

export function formatCount(n: number): string {
  if (n < 1e3) return String(n)
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} K`
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} M`
  return `${(n / 1e9).toFixed(2)} B`
}

const COMPONENT_LABELS: Record<string, string> = { unet: 'UNet', te1: 'text encoder 1', te2: 'text encoder 2', transformer: 'transformer', other: 'other' }
const hist = (h: readonly { value: unknown; count: number }[]) => h.map((x) => `${x.value} (${x.count})`).join(', ')

function encoderLine(e: TextEncoderConfig): string {
  return `${e.layout.role}: width ${e.width.value}, ${e.layers} layers${e.projectionDim ? `, projection ${e.projectionDim.value}` : ''} [${e.layout.prefix || 'no prefix'}]`
}

function componentRows(c: ComponentsReport): [string, string][] {
  const rows: [string, string][] = []
  const u = c.unet
  if (u) {
    const levels = u.levels.value
    rows.push(['UNet', `${u.layout} layout${u.prefix ? ` under ${u.prefix}` : ''}; in ${u.inChannels.value} / out ${u.outChannels?.value ?? '-'} channels; `
      + `model channels ${u.modelChannels.value}; levels [${levels.map((l) => l.channels).join(', ')}]; `
      + `transformer depth [${levels.map((l) => l.transformerDepth).join(', ')}] + middle ${u.middleTransformerDepth}; `
      + `context ${u.contextDim?.value ?? '-'}${u.admInChannels ? `; adm ${u.admInChannels.value}` : ''}; ${u.projIn?.value ?? '?'} proj_in`])
    if (c.family && c.family.family !== 'unknown') rows.push(['widths', c.family.standardWidths ? 'as released' : 'differ from the released model (a test or distilled model?)'])
  }
  if (c.vae) rows.push(['VAE', `${c.vae.layout} layout${c.vae.prefix ? ` under ${c.vae.prefix}` : ''}; base channels ${c.vae.baseChannels.value}; ${c.vae.latentChannels.value}-channel latent; ${c.vae.levels} levels${c.vae.hasEncoder ? '' : '; decoder only'}`])
  c.textEncoders.forEach((e, i) => rows.push([i === 0 ? 'text encoder' : '', encoderLine(e)]))
  return rows
}

function loraRows(l: LoraReport): [string, string][] {
  const comps = l.components.map((c) => `${COMPONENT_LABELS[c.value]} ${c.count}`).join(', ')
  const rows: [string, string][] = [
    ['algorithm', `${hist(l.algorithms)}${l.dora ? ' + DoRA' : ''}`],
    ['modules', `${l.moduleCount} (${comps}); key scheme ${l.schemes.join(', ')}`],
    ['rank', l.ranks.length > 0 ? hist(l.ranks) : '-'],
    ['alpha', l.alphas.length > 0 ? hist(l.alphas) : 'none stored (alpha = rank)'],
  ]
  if (l.bundledEmbeddings.length > 0) rows.push(['embeddings', l.bundledEmbeddings.join(', ')])
  if (l.unrecognizedKeys.length > 0) rows.push(['unrecognised', `${l.unrecognizedKeys.length} keys, e.g. ${l.unrecognizedKeys.slice(0, 3).join(', ')}`])
  return rows
}

function metadataRows(m: MetadataReport): [string, string][] {
  const rows: [string, string][] = []
  const k = m.kohya
  if (k) {
    const fields = [['base', k.baseModelVersion], ['module', k.networkModule], ['dim', k.networkDim], ['alpha', k.networkAlpha],
      ['args', k.networkArgs && JSON.stringify(k.networkArgs)], ['resolution', k.resolution], ['epochs', k.epochs], ['steps', k.steps],
      ['output', k.outputName], ['trained on', k.modelName]] as const
    rows.push(['training', fields.filter(([, v]) => v !== undefined).map(([n, v]) => `${n} ${v}`).join('; ') || '-'])
    if (k.topTags.length > 0) rows.push(['trigger words', k.topTags.map((t) => `${t.tag} (${t.count})`).join(', ')])
    if (k.malformed.length > 0) rows.push(['malformed', k.malformed.join(', ')])
  }
  for (const [key, v] of Object.entries({ ...m.modelspec, ...m.hashes, ...m.other })) rows.push([key, v.length > 120 ? `${v.slice(0, 117)}...` : v])
  return rows
}

function identityRows(r: ModelReport): [string, string][] {
  switch (r.kind) {
    case 'lora': return loraRows(r.lora)
    case 'embedding': return [
      ['format', r.embedding.format],
      ['vectors', r.embedding.vectors.map((v) => `${v.encoder === 'clip' ? '' : `${v.encoder} `}${v.count} x ${v.dim.value}`).join(', ')],
    ]
    case 'unknown': return [['reason', r.reason]]
    default: return r.components ? componentRows(r.components) : []
  }
}

export function formatCard(r: ModelReport): string {
  const s = r.summary
  const rows: [string, string][] = [
    ['kind', r.kind],
    ['architecture', `${r.architecture.label}${r.architecture.supported ? '' : ' (not supported)'}`],
    ['why', r.architecture.note],
    ...(r.fewStep ? [['few-step', fewStepLine(r.fewStep)] as [string, string]] : []),
    ['file', `${formatBytes(r.fileSize)} ${r.format}; ${s.tensorCount} tensors; ${formatCount(s.parameterCount)} parameters`],
    ['dtypes', s.dtypes.map((d) => `${d.dtype} ${d.tensors} (${formatBytes(d.bytes)})`).join(', ')],
    ['EMA', s.ema.present ? `yes: ${s.ema.tensors} tensors, ${formatCount(s.ema.parameters)} parameters` : 'no'],
    ...identityRows(r),
    ...metadataRows(r.metadata),
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return [basename(r.file), ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n')
}
