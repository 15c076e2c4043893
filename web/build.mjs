// Builds the web UI (web/src, Preact) into dist/web: one JS and one CSS file named by content hash, and index.html
// naming them. Runs in `npm install` (package.json prepare) with esbuild, which tsx already brings.
import { build } from 'esbuild'
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const final = join(root, 'dist', 'web')
// Built beside the old folder and swapped in, so a server starting meanwhile reads one build or the other, whole.
const out = `${final}.tmp-${process.pid}`
rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'assets'), { recursive: true })
const result = await build({
  entryPoints: [join(root, 'web', 'src', 'main.tsx')], bundle: true, minify: true, format: 'esm', target: 'es2020',
  outdir: join(out, 'assets'), entryNames: '[name]-[hash]', jsx: 'automatic', jsxImportSource: 'preact',
  metafile: true, legalComments: 'none', logLevel: 'warning',
})
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p))
const js = outputs.find((n) => n.endsWith('.js'))
const css = outputs.find((n) => n.endsWith('.css'))
writeFileSync(join(out, 'index.html'), `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdloom</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body><div id="app"></div></body>
</html>
`)
const old = `${final}.old-${process.pid}`
if (existsSync(final)) renameSync(final, old)
renameSync(out, final)
rmSync(old, { recursive: true, force: true })
const sizes = Object.entries(result.metafile.outputs).map(([p, o]) => `${basename(p)} ${(o.bytes / 1024).toFixed(1)} KiB`)
console.log(`web UI built into dist/web: ${sizes.join(', ')}`)
