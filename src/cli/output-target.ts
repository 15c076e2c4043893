/*
 * `--out` checked before any work: the folder must exist (or be made) and take a file, so a typo or a read-only
 * folder fails in a second instead of after minutes of sampling (issue #14). What the path means:
 *  - ends in ".png": the file of the image (several images: NAME-1.png, …, see pipeline/output-paths.ts);
 *  - ends in another image extension (.jpg, .webp, …): refused, sdloom writes PNG only, because A1111's infotext
 *    (the "parameters" text chunk that PNG Info, Civitai and sdloom read back) lives in PNG text chunks;
 *  - anything else: a folder.
 * Folders are made one level at a time: Node 20's `mkdir(…, { recursive: true })` spins forever at 100% CPU under
 * /proc (it keeps retrying the ENOENT it gets there), so a recursive mkdir is never used on a user's path.
 */
import { constants } from 'node:fs'
import { access, mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { dirname, extname, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { InputError } from '../core/errors.ts'

const OTHER_IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif', '.heic', '.jxl'])

export interface OutputTarget {
  readonly kind: 'file' | 'folder'
  /** The folder the images go into (shown to be writable; not left behind if this call made it). */
  readonly folder: string
}

const reason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EROFS' ? 'read-only file system'
      : code === 'ENOSPC' ? 'the disk is full'
        : code === 'ENOENT' ? 'it cannot be created there'
          : code === 'ENOTDIR' ? 'part of the path is a file'
          : code ?? (e as Error).message
}

const fail = (folder: string, why: string): InputError =>
  new InputError(`--out: cannot write to the folder ${folder} (${why}); choose another --out`)

/**
 * Makes `folder` and any missing parents, one level at a time (see the header: never recursive); returns the
 * folders it made, outermost first.
 */
export async function makeFolder(folder: string): Promise<string[]> {
  const abs = resolve(folder)
  const s = await stat(abs).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return undefined; throw fail(abs, reason(e)) })
  if (s?.isDirectory()) return []
  if (s) throw fail(abs, 'a file of that name exists')
  const parent = dirname(abs)
  if (parent === abs) throw fail(abs, 'no such root')
  const made = await makeFolder(parent)
  try {
    await mkdir(abs)
  } catch (e) {
    await removeFolders(made)
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(abs, reason(e))
    return []
  }
  return [...made, abs]
}

/** Removes empty folders this run made (innermost first). */
async function removeFolders(made: readonly string[]): Promise<void> {
  for (const dir of [...made].reverse()) await rmdir(dir).catch(() => undefined)
}

/** Creates and removes a probe file, so an unwritable folder is found before anything is loaded. */
async function probe(folder: string): Promise<void> {
  const file = `${folder}/.sdloom-probe-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await access(folder, constants.W_OK)
    await writeFile(file, '', { flag: 'wx' })
  } catch (e) {
    throw fail(folder, reason(e))
  }
  await rm(file, { force: true })
}

/** What `--out` names, with its folder made and shown to be writable. */
export async function prepareOutput(out: string): Promise<OutputTarget> {
  const ext = extname(out).toLowerCase()
  if (OTHER_IMAGE_EXTENSIONS.has(ext)) {
    throw new InputError(`--out ${out}: sdloom writes PNG files only (A1111's infotext lives in PNG text chunks); `
      + `use --out ${out.slice(0, -ext.length)}.png, or a folder`)
  }
  const kind = ext === '.png' ? 'file' : 'folder'
  const folder = resolve(kind === 'file' ? dirname(out) : out)
  const made = await makeFolder(folder)
  try {
    await probe(folder)
  } finally {
    // a run that fails later leaves no empty folder behind; the folders are made again when the first image is written
    await removeFolders(made)
  }
  return { kind, folder }
}
