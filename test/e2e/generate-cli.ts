/* Runs `sdloom` as a child process (the real CLI: argument parsing, exit codes, one-line errors, files on disk). */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT, TOKENIZER_DIR, ref } from '../golden.ts'

export interface CliResult { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: string; readonly stderr: string }

export const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts')
export const TINY_SD1 = ref('sd1', 'tiny-sd1.safetensors')
/** The "Done when" command without --model / --out. */
export const DONE_WHEN = [
  'generate', 'a photo of a cat, (masterpiece:1.2), best quality', '--negative', 'blurry, lowres', '--sampler', 'Euler',
  '--steps', '8', '--cfg', '7', '--seed', '42', '--rng', 'cpu', '--width', '64', '--height', '64', '--tokenizer', TOKENIZER_DIR,
]

/** `onStderr` sees the stderr text so far after each chunk, with a way to signal the child. */
export function runSdloom(args: readonly string[], env: NodeJS.ProcessEnv,
  onStderr?: (stderr: string, kill: (s: NodeJS.Signals) => void) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      onStderr?.(stderr, (sig) => child.kill(sig))
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** stderr without Node's own warnings (e.g. the experimental-loader notice) and progress ("phase: …", bar summaries). */
export const errorLines = (stderr: string): string[] =>
  stderr.split('\n').filter((l) => l.trim() !== '' && !/^\(node:\d+\)|--trace-warnings|ExperimentalWarning|^phase: |^(hashing|sampling|merging) .* \[[# ]{20}\] /.test(l))
