/**
 * Training metadata in safetensors `__metadata__`: kohya sd-scripts `ss_*` fields (train_network.py writes them),
 * the Stability "modelspec" fields (`modelspec.*`, https://github.com/Stability-AI/ModelSpec) and
 * `sshs_model_hash`/`sshs_legacy_hash` (kohya's own hashes). Values are strings; JSON-valued fields are parsed,
 * and a field that does not parse is reported as such, never dropped.
 */

export interface TagCount {
  readonly tag: string
  readonly count: number
}

export interface KohyaMetadata {
  readonly baseModelVersion?: string
  readonly networkModule?: string
  readonly networkDim?: string
  readonly networkAlpha?: string
  readonly networkArgs?: Readonly<Record<string, unknown>>
  readonly resolution?: string
  readonly epochs?: string
  readonly steps?: string
  readonly outputName?: string
  readonly modelName?: string
  /** Most frequent training tags over all datasets (likely trigger words first). */
  readonly topTags: readonly TagCount[]
  /** Fields whose JSON did not parse. */
  readonly malformed: readonly string[]
}

export interface MetadataReport {
  readonly kohya: KohyaMetadata | undefined
  readonly modelspec: Readonly<Record<string, string>>
  readonly hashes: Readonly<Record<string, string>>
  /** Other keys (not ss_*, modelspec.*, sshs_*), verbatim. */
  readonly other: Readonly<Record<string, string>>
}

const TOP_TAGS = 10

function parseJson(md: Readonly<Record<string, string>>, key: string, malformed: string[]): unknown {
  const v = md[key]
  if (v === undefined || v === '' || v === 'None') return undefined
  try { return JSON.parse(v) } catch { malformed.push(key); return undefined }
}

/** Sums `ss_tag_frequency` ({dataset: {tag: count}}) across datasets, most frequent first. */
export function topTrainingTags(freq: unknown, limit = TOP_TAGS): TagCount[] {
  if (typeof freq !== 'object' || freq === null) return []
  const sums = new Map<string, number>()
  for (const tags of Object.values(freq as Record<string, unknown>)) {
    if (typeof tags !== 'object' || tags === null) continue
    for (const [tag, n] of Object.entries(tags as Record<string, unknown>)) {
      const t = tag.trim()
      if (t !== '' && typeof n === 'number') sums.set(t, (sums.get(t) ?? 0) + n)
    }
  }
  return [...sums].map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag)).slice(0, limit)
}

function kohya(md: Readonly<Record<string, string>>): KohyaMetadata | undefined {
  if (!Object.keys(md).some((k) => k.startsWith('ss_'))) return undefined
  const malformed: string[] = []
  const args = parseJson(md, 'ss_network_args', malformed)
  const tags = parseJson(md, 'ss_tag_frequency', malformed)
  return {
    baseModelVersion: md.ss_base_model_version,
    networkModule: md.ss_network_module,
    networkDim: md.ss_network_dim,
    networkAlpha: md.ss_network_alpha,
    networkArgs: typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : undefined,
    resolution: md.ss_resolution,
    epochs: md.ss_num_epochs ?? md.ss_epoch,
    steps: md.ss_max_train_steps ?? md.ss_steps,
    outputName: md.ss_output_name,
    modelName: md.ss_sd_model_name,
    topTags: topTrainingTags(tags),
    malformed,
  }
}

export function readMetadata(md: Readonly<Record<string, string>>): MetadataReport {
  const pick = (test: (k: string) => boolean) => Object.fromEntries(Object.entries(md).filter(([k]) => test(k)))
  return {
    kohya: kohya(md),
    modelspec: pick((k) => k.startsWith('modelspec.')),
    hashes: pick((k) => k.startsWith('sshs_')),
    other: pick((k) => !k.startsWith('ss_') && !k.startsWith('modelspec.') && !k.startsWith('sshs_')),
  }
}
