/**
 * Where LoRA/LyCORIS files come from: `--lora FILE[:W[:W_UNET]]` flags and the prompt's `<lora:NAME:…>` /
 * `<lyco:…>` calls, resolved in a `--loras DIR` as A1111's Lora extension does (networks.py `list_available_networks`:
 * a recursive walk over .pt / .ckpt / .safetensors, name = file stem, a later file with the same stem replaces an
 * earlier one; files sorted by natural order within each folder). A name that is no file stem is looked up among the
 * aliases, kohya's `ss_output_name` metadata of the .safetensors files, unless two files share that alias (A1111's
 * `forbidden_network_aliases`); the headers are read only then.
 * https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/c8a5322d/extensions-builtin/Lora/networks.py
 */
import { readdir, stat } from 'node:fs/promises'
import { basename, extname, join, resolve } from 'node:path'
import { InputError, SdError } from '../core/errors.ts'
import { openSafetensors } from '../formats/safetensors.ts'
import { parseExtraNetworks } from '../prompt/index.ts'

/**
 * One LoRA to apply: a file (from --lora), a name to find in --loras (from the prompt), or both (a name a resolver
 * already found: the infotext shows the name), and its multipliers.
 */
export interface LoraRequest {
  readonly file?: string
  readonly name?: string
  /** Text-encoder multiplier. */
  readonly te: number
  readonly unet: number
}

export const NETWORK_EXTENSIONS: readonly string[] = ['.safetensors', '.pt', '.ckpt']

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' })

async function walk(dir: string, out: Map<string, string>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  const files = entries.filter((e) => !e.isDirectory()).map((e) => e.name).sort(natural.compare)
  for (const name of files) {
    if (NETWORK_EXTENSIONS.includes(extname(name).toLowerCase())) out.set(basename(name, extname(name)), join(dir, name))
  }
  for (const sub of entries.filter((e) => e.isDirectory()).map((e) => e.name).sort(natural.compare)) await walk(join(dir, sub), out)
}

async function checkFolder(dir: string, flag: string): Promise<void> {
  const st = await stat(dir).catch(() => undefined)
  if (!st) throw new InputError(`${flag} ${dir}: no such folder`)
  if (!st.isDirectory()) throw new InputError(`${flag} ${dir}: is a file, expected a folder`)
}

/** Every network file under `dir` by file stem (A1111 `available_networks`). */
export async function listNetworks(dir: string): Promise<Map<string, string>> {
  await checkFolder(dir, '--loras')
  const out = new Map<string, string>()
  await walk(resolve(dir), out)
  return out
}

/** Levenshtein distance, case-insensitive (names differing only in case are the closest). */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[y.length] + (a !== b && x === y ? 0.5 : 0)
}

/** Up to `max` names like `name`: containing it (or it them), or within a third of its length in edits. */
export function closeNames(name: string, names: Iterable<string>, max = 5): string[] {
  const low = name.toLowerCase()
  return [...names]
    .map((n) => ({ n, d: distance(name, n) }))
    .filter(({ n, d }) => d <= Math.max(2, name.length / 3) || n.toLowerCase().includes(low) || low.includes(n.toLowerCase()))
    .sort((a, b) => a.d - b.d || natural.compare(a.n, b.n))
    .slice(0, max)
    .map(({ n }) => n)
}

/** Alias (`ss_output_name`) → file, for aliases that only one file carries; unreadable headers are skipped. */
async function networkAliases(available: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const forbidden = new Set<string>()
  for (const file of available.values()) {
    if (extname(file).toLowerCase() !== '.safetensors') continue
    // A file that cannot be read has no alias; it fails with its own error if a prompt names it by its stem.
    const source = await openSafetensors(file).catch((e: unknown) => { if (e instanceof SdError) return undefined; throw e })
    const alias = source?.metadata.ss_output_name
    await source?.close()
    if (!alias) continue
    if (out.has(alias) && out.get(alias) !== file) forbidden.add(alias)
    out.set(alias, file)
  }
  for (const alias of forbidden) out.delete(alias)
  return out
}

/** The file `<lora:NAME>` refers to (file stem, else alias), or an InputError listing close names. */
export async function resolveNetworkName(name: string, available: ReadonlyMap<string, string>, dir: string): Promise<string> {
  const file = available.get(name)
  if (file) return file
  const aliases = await networkAliases(available)
  const byAlias = aliases.get(name)
  if (byAlias) return byAlias
  const close = closeNames(name, new Set([...available.keys(), ...aliases.keys()]))
  const hint = close.length > 0
    ? `close names: ${close.join(', ')}`
    : available.size === 0 ? 'the folder has no .safetensors, .pt or .ckpt files' : `it has ${available.size} networks, none with a similar name`
  throw new InputError(`<lora:${name}>: no LoRA named "${name}" in --loras ${dir} (names are file stems, searched recursively); ${hint}`)
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

/**
 * `--lora FILE[:W[:W_UNET]]`: W (default 1) for both networks, W_UNET for the UNet. Only trailing segments that
 * are numbers are read as weights, so `C:\loras\x.safetensors` and names with colons keep working.
 */
export function parseLoraFlag(value: string): LoraRequest {
  const parts = value.split(':')
  const weights: number[] = []
  while (parts.length > 1 && weights.length < 2 && NUMBER.test(parts[parts.length - 1])) weights.unshift(Number(parts.pop()))
  const file = parts.join(':')
  if (file === '') throw new InputError(`--lora ${value}: no file. Hint: --lora FILE[:WEIGHT[:UNET_WEIGHT]], e.g. --lora style.safetensors:0.7`)
  const te = weights[0] ?? 1
  return { file, te, unet: weights[1] ?? te }
}

/** The prompt's `<lora:…>` / `<lyco:…>` calls as requests (A1111 multipliers: te, then unet defaulting to te). */
export function loraRequestsFromPrompt(prompt: string): LoraRequest[] {
  return parseExtraNetworks(prompt).loras.map((l) => ({ name: l.name, te: l.te, unet: l.unet }))
}
