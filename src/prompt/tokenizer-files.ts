/*
 * Where the CLIP BPE files (vocab.json + merges.txt of openai/clip-vit-large-patch14) come from:
 * `--tokenizer DIR` > `SDLOOM_TOKENIZER` > `<cache>/tokenizers/clip-vit-large-patch14/`, the last filled from
 * Hugging Face once when a file is missing. Every text encoder sdloom runs (CLIP-L, OpenCLIP ViT-H, bigG) uses them.
 */
import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { cacheDir } from '../core/cache-dir.ts'
import { download, hfFileUrl } from '../core/download.ts'
import { InputError, NetworkError } from '../core/errors.ts'

export const TOKENIZER_REPO = 'openai/clip-vit-large-patch14'
export const TOKENIZER_FILES = ['vocab.json', 'merges.txt'] as const
const HINT = 'pass --tokenizer DIR (a folder with vocab.json and merges.txt) or set SDLOOM_TOKENIZER'

export interface TokenizerDirOptions {
  /** The `--tokenizer DIR` flag. */
  readonly flag?: string
  /** Environment for SDLOOM_TOKENIZER / SDLOOM_CACHE / SDLOOM_HF_ENDPOINT (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  readonly signal?: AbortSignal
  /** Told, in one line, before a file is downloaded. */
  readonly log?: (line: string) => void
}

/** Checks that `dir` is a folder holding both files; `source` says where it came from ("--tokenizer /x"). */
async function checkDir(dir: string, source: string): Promise<string> {
  const fail = (what: string): InputError => new InputError(`${source}: ${what}; expected a folder with `
    + `vocab.json and merges.txt (the CLIP tokenizer of ${TOKENIZER_REPO})`)
  const s = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw fail('no such folder')
    throw e
  })
  if (!s.isDirectory()) throw fail('not a folder')
  const missing: string[] = []
  for (const name of TOKENIZER_FILES) {
    const f = await stat(join(dir, name)).catch(() => undefined)
    if (!f?.isFile()) missing.push(name)
  }
  if (missing.length) throw fail(`missing ${missing.join(' and ')}`)
  return dir
}

/** Rejects what a captive portal or an error page would leave behind; the tokenizer loader checks the rest. */
async function checkDownloaded(path: string, name: (typeof TOKENIZER_FILES)[number]): Promise<void> {
  const text = await readFile(path, 'utf8')
  const ok = name === 'merges.txt' ? text.startsWith('#version') : looksLikeVocab(text)
  if (ok) return
  await rm(path, { force: true })
  throw new NetworkError(`cannot download the CLIP tokenizer's ${name} (the server sent ${JSON.stringify(text.slice(0, 40))}…, `
    + `not the ${TOKENIZER_REPO} file; removed it); ${HINT}`)
}

function looksLikeVocab(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown>
    return typeof v === 'object' && v !== null && v['<|endoftext|>'] === 49407
  } catch {
    return false // not JSON at all: reported by the caller as a bad download
  }
}

async function ensureCachedTokenizer(opts: TokenizerDirOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = join(cacheDir(env), 'tokenizers', 'clip-vit-large-patch14')
  for (const name of TOKENIZER_FILES) {
    const path = join(dir, name)
    if (await stat(path).then((s) => s.isFile(), () => false)) continue
    const url = hfFileUrl(TOKENIZER_REPO, name, env)
    opts.log?.(`downloading the CLIP tokenizer's ${name} from ${url} to ${path}`)
    await download({ url, dest: path, signal: opts.signal, what: `the CLIP tokenizer's ${name}`, hint: HINT })
    await checkDownloaded(path, name)
  }
  return checkDir(dir, `the tokenizer cache ${dir}`)
}

/** The folder with vocab.json and merges.txt to load the CLIP tokenizer from (downloaded into the cache if need be). */
export async function resolveTokenizerDir(opts: TokenizerDirOptions = {}): Promise<string> {
  const env = opts.env ?? process.env
  if (opts.flag !== undefined) return checkDir(opts.flag, `--tokenizer ${opts.flag}`)
  if (env.SDLOOM_TOKENIZER) return checkDir(env.SDLOOM_TOKENIZER, `SDLOOM_TOKENIZER=${env.SDLOOM_TOKENIZER}`)
  return ensureCachedTokenizer(opts, env)
}
