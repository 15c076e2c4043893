/**
 * The stale-temp sweep (core/atomic-write.ts): a writer killed mid-write leaves `.<name>.<pid>.<hex>.tmp` beside its
 * target; the next atomic write into that folder removes such files, but only ours (the exact naming pattern), only
 * when their writer's pid no longer runs, and only when they are older than the sweeping process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sweepStaleTemps, writeFileAtomic } from '../../src/core/atomic-write.ts'

/** The pid of a process that has exited (a finished child's). */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)

test('the first atomic write into a folder sweeps only stale temp files of dead writers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sdloom-stale-'))
  try {
    const dead = deadPid()
    const old = new Date(Date.now() - 3600_000)
    const files: Record<string, { old: boolean }> = {
      [`.model.safetensors.${dead}.0badf00d.tmp`]: { old: true },            // stale: dead writer, older than us → removed
      [`.img.png.${dead}.12345678.tmp`]: { old: true },                      // stale → removed
      [`.fresh.png.${dead}.abcdef01.tmp`]: { old: false },                   // dead writer but newer than this process → kept
      [`.live.png.${process.ppid}.abcdef01.tmp`]: { old: true },             // a running writer (our parent) → kept
      [`.mine.png.${process.pid}.abcdef01.tmp`]: { old: true },              // this process's own → kept
      [`notours.${dead}.0badf00d.tmp`]: { old: true },                       // no leading dot → kept
      [`.other.${dead}.tmp`]: { old: true },                                 // no random part → kept
      [`.upper.png.${dead}.0BADF00D.tmp`]: { old: true },                    // not our hex → kept
      'keep.png': { old: true },
    }
    for (const [name, { old: isOld }] of Object.entries(files)) {
      await writeFile(join(dir, name), 'x')
      if (isOld) await utimes(join(dir, name), old, old)
    }
    await writeFileAtomic(join(dir, 'new.png'), 'new')
    const left = new Set(await readdir(dir))
    assert.deepEqual(Object.keys(files).filter((n) => !left.has(n)).sort(), [`.img.png.${dead}.12345678.tmp`, `.model.safetensors.${dead}.0badf00d.tmp`])
    assert.ok(left.has('new.png'))
    // Once per folder per process: a second write does not sweep again, an explicit sweep reports what it removes.
    await writeFile(join(dir, `.late.png.${dead}.00000000.tmp`), 'x')
    await utimes(join(dir, `.late.png.${dead}.00000000.tmp`), old, old)
    await writeFileAtomic(join(dir, 'new.png'), 'newer')
    assert.ok((await readdir(dir)).includes(`.late.png.${dead}.00000000.tmp`))
    assert.deepEqual(await sweepStaleTemps(dir), [`.late.png.${dead}.00000000.tmp`])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
