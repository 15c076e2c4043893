/**
 * The browser for the web UI tests: Debian's Chromium driven by playwright-core. Where Chromium is absent the tests
 * are skipped LOUDLY (a warning naming each one; .ci/run installs the package so CI never skips). The page is the
 * built one (dist/web); it is rebuilt first when any web source is newer than the build.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { REPO_ROOT } from '../golden.ts'

export const CHROMIUM = process.env.SDLOOM_CHROMIUM ?? '/usr/bin/chromium'
export const HAVE_CHROMIUM = existsSync(CHROMIUM)

/** Skip reason for node:test, warned about once per file with the names of the tests it skips. */
export function chromiumSkip(file: string, tests: readonly string[]): string | false {
  if (HAVE_CHROMIUM) return false
  console.warn(`\n*** WARNING: ${CHROMIUM} is missing, so ${file} SKIPS ${tests.length} browser test(s):\n${tests.map((t) => `***   - ${t}`).join('\n')}\n`
    + '*** Install it (Debian: apt-get install chromium) or point SDLOOM_CHROMIUM at a Chromium binary.\n')
  return `Chromium is not installed at ${CHROMIUM}`
}

function newestSource(dir: string): number {
  return Math.max(...readdirSync(dir).map((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? newestSource(p) : statSync(p).mtimeMs
  }))
}

/** Builds dist/web when it is missing or older than web/src (CI's npm ci has just built it). */
export function ensureWebBuilt(): void {
  const index = join(REPO_ROOT, 'dist', 'web', 'index.html')
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource(join(REPO_ROOT, 'web', 'src'))) return
  execFileSync(process.execPath, [join(REPO_ROOT, 'web', 'build.mjs')], { stdio: 'ignore' })
}

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
}
