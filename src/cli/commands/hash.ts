import { InputError } from '../../core/errors.ts'
import { basename } from 'node:path'
import { progressBar, type Progress } from '../../core/progress.ts'
import { HASH_KINDS, hashFile, isHashKind, type HashKind } from '../../tools/hash.ts'
import type { Command, CommandContext } from '../command.ts'
import { eachFile, exitStatus, failed } from '../per-file.ts'

function parseKinds(v: unknown): HashKind[] {
  if (v === undefined) return [...HASH_KINDS]
  const kinds = String(v).split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  const bad = kinds.filter((k) => !isHashKind(k))
  if (bad.length > 0 || kinds.length === 0) throw new InputError(`--kinds: unknown hash kind(s) ${bad.map((b) => `"${b}"`).join(', ') || '(none given)'}; known: ${HASH_KINDS.join(', ')}`)
  return [...new Set(kinds)] as HashKind[]
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length === 0) throw new InputError('hash needs at least one FILE. See: sdloom hash --help')
  const kinds = parseKinds(ctx.values.kinds)
  const outcomes = await eachFile(ctx, ctx.positionals, async (file) => {
    let bar: Progress | undefined
    const onProgress = (bytes: number, total: number) => { bar ??= progressBar({ label: `hash ${basename(file)}`, total, unit: 'bytes' }); bar.tick(bytes) }
    try {
      return await hashFile(file, kinds, { cache: ctx.values['no-cache'] !== true, onProgress })
    } finally {
      bar?.end()
    }
  })
  const results = outcomes.map((o) => (failed(o) ? o : { file: o.file, ...o.value }))
  if (ctx.json) ctx.out(JSON.stringify(results.length === 1 ? results[0] : results, null, 2))
  else {
    const lines = outcomes.flatMap((o) => (failed(o) ? [] : [`${kinds.map((k) => `${k}:${o.value[k]}`).join('  ')}  ${o.file}`]))
    if (lines.length > 0) ctx.out(lines.join('\n'))
  }
  return exitStatus(outcomes)
}

export const hash: Command = {
  summary: 'model file hashes as A1111/Civitai show them (SHA-256, AutoV1/V2/V3), cached',
  help: [
    'Usage: sdloom hash [--kinds sha256,autov2,autov3,autov1] [--no-cache] FILE...',
    '',
    '  sha256  full SHA-256',
    '  autov2  first 10 hex digits of the SHA-256 (A1111 "Model hash")',
    '  autov3  first 12 hex of the SHA-256 of a safetensors file after its header (A1111 LoRA hash; other files: SHA-256)',
    '  autov1  A1111\'s legacy 8-hex hash of 64 KiB at offset 1 MiB',
    'All kinds come from one pass over the file. Results are cached by path, size and mtime in',
    '$SDLOOM_CACHE (else $XDG_CACHE_HOME/sdloom or ~/.cache/sdloom)/hashes.json, so a second call is instant.',
    '',
    'Options:',
    '  --kinds LIST  comma-separated kinds (default: all)',
    '  --no-cache    neither read nor write the cache',
    '',
    'Several files: a file that cannot be read gets its error (on stderr, and as {file, error} in --json); the others',
    'are still hashed and printed, and the command exits 1.',
  ].join('\n'),
  options: { 'kinds': { type: 'string' }, 'no-cache': { type: 'boolean' } },
  run,
}
