#!/usr/bin/env node
// Run by `npm run build` after tsc: the engine thread's ~110 modules (dist/engine/worker.js and what it
// imports) as one file, dist/engine/worker.bundle.js. A worker thread starts with an empty module cache, and
// loading them one by one (resolve, read, compile, link each) took ~110 ms of every server start; as one
// file ~50 ms (issue 17). Packages stay external (PGlite finds its files next to its own modules). The
// bundle sits beside worker.js, so import.meta.url-relative paths (util/paths.ts) resolve the same;
// engine/client.ts runs it only when it is not older than worker.js (a tsc without this step).
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { rolldown } from 'rolldown'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(fs.readFileSync(`${root}package.json`, 'utf8'))
const deps = Object.keys(pkg.dependencies ?? {})
const external = (id) => id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`))

const bundle = await rolldown({
  input: `${root}dist/engine/worker.js`,
  external,
  platform: 'node',
  onLog(level, log) {
    // anything the bundler is unsure about fails the build: the engine must be what tsc compiled
    throw new Error(`bundling the engine: ${level}: ${log.message}`)
  },
})
await bundle.write({ file: `${root}dist/engine/worker.bundle.js`, format: 'esm', sourcemap: false })
await bundle.close()
