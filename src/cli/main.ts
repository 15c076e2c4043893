#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { env as ortEnv } from 'onnxruntime-node'
import { SdError } from '../core/errors.ts'
import { VERSION } from '../core/version.ts'
import { exitCodeOf } from './exit-codes.ts'
import { COMMANDS } from './commands/index.ts'
import type { Command, CommandContext } from './command.ts'

const SHARED_OPTIONS = {
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

function mainHelp(): string {
  const names = Object.keys(COMMANDS)
  const width = Math.max(...names.map((n) => n.length), 4)
  return [
    `sdloom ${VERSION}: Stable Diffusion checkpoints, LoRAs and embeddings, straight from disk`,
    '',
    'Usage: sdloom <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Every command takes --help, --json (machine-readable output) and --debug (stack traces on errors).',
  ].join('\n')
}

function commandHelp(cmd: Command): string {
  return `${cmd.help}\n\nShared options:\n  --json   machine-readable output on stdout\n  --debug  show stack traces on errors\n  --help   this text`
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') { console.log(mainHelp()); return 0 }
  if (name === '--version' || name === '-v') { console.log(VERSION); return 0 }
  const cmd = COMMANDS[name]
  const debug = rest.includes('--debug')
  // onnxruntime's own log writes multi-line reports of a failed kernel to stderr; the error it throws is reported
  // below in one line, so its log is kept for --debug (it is read once, when the first session is made)
  if (!debug) ortEnv.logLevel = 'fatal'
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`)
    let parsed
    try {
      parsed = parseArgs({ args: joinNegativeValues(rest, cmd.options), options: { ...cmd.options, ...SHARED_OPTIONS }, allowPositionals: true, strict: true })
    } catch (e) {
      throw new UsageError(`${firstLine((e as Error).message).replace(/\. To specify.*$/, '')}. See: sdloom ${name} --help`)
    }
    if (parsed.values.help) { console.log(commandHelp(cmd)); return 0 }
    const ctx: CommandContext = {
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      json: parsed.values.json === true,
      out: (t) => { process.stdout.write(t.endsWith('\n') ? t : `${t}\n`) },
      warn: (t) => { process.stderr.write(t.endsWith('\n') ? t : `${t}\n`) },
    }
    return await cmd.run(ctx)
  } catch (e) {
    return reportError(e, debug)
  }
}

const firstLine = (s: string): string => s.split('\n')[0].trim()

/**
 * An unexpected error (an onnxruntime failure, an allocation that did not fit) in one line: its first line, cut at
 * 300 characters; onnxruntime's are named as such ("Non-zero status code returned while running MatMul node…").
 */
export function oneLine(message: string): string {
  const line = firstLine(message) || 'unknown error'
  const short = line.length > 300 ? `${line.slice(0, 297)}...` : line
  return /status code returned while running|onnxruntime|bad_alloc/i.test(message) && !/^onnxruntime/i.test(short)
    ? `onnxruntime: ${short}` : short
}

/**
 * `--seed -1` is how A1111 users write a random seed, but parseArgs reads "-1" as an option: a negative number
 * after an option that takes a value is joined to it (`--seed=-1`).
 */
function joinNegativeValues(args: readonly string[], options: Command['options']): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const next = args[i + 1]
    const opt = a.startsWith('--') ? options[a.slice(2)] : undefined
    if (opt?.type === 'string' && next !== undefined && /^-\d/.test(next)) { out.push(`${a}=${next}`); i++ } else out.push(a)
  }
  return out
}

class UsageError extends SdError {
  override name = 'UsageError'
}

/** One line on stderr (stack only with --debug); the exit status comes from the error's code (exit-codes.ts). */
function reportError(e: unknown, debug: boolean): number {
  if (e instanceof SdError) {
    process.stderr.write(`error: ${e.message}\n`)
    if (debug && e.stack) process.stderr.write(`${e.stack}\n`)
    return exitCodeOf(e)
  }
  const err = e instanceof Error ? e : new Error(String(e))
  process.stderr.write(`error: ${debug ? err.message : oneLine(err.message)}${debug ? '' : ' (run with --debug for details)'}\n`)
  if (debug && err.stack) process.stderr.write(`${err.stack}\n`)
  return 1
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href
  || /[\\/](main\.(ts|js)|sdloom)$/.test(process.argv[1] ?? '')
if (isMain) {
  runCli(process.argv.slice(2)).then((code) => { process.exitCode = code })
}
