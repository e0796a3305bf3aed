// PGlite's wasm, compiled once per thread and handed to every instance (and to helper threads, which
// receive a clone of the compiled module instead of compiling the 9 MB file again).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import v8 from 'node:v8'

const require = createRequire(import.meta.url)

/** The directory of PGlite's dist files (pglite.wasm, pglite.data, package.json one level up). */
export function pgliteDist(): string {
  return path.dirname(require.resolve('@electric-sql/pglite'))
}

let compiled: Promise<WebAssembly.Module> | undefined

/**
 * Let TurboFan inline small wasm functions into their callers (PostgreSQL's executor is made of them:
 * slot accessors, visibility checks, fmgr wrappers). The flag is process-wide, read when a function
 * tiers up, and is the default from V8 12 on (Node 22); Node 20's V8 11.3 has it off. It takes 10–20 %
 * off wasm-bound statements (docs/performance.md, "Session 11"). PYGLITE_WASM_INLINING=0 leaves V8's
 * default.
 */
function tuneWasmCompiler(): void {
  if (process.env.PYGLITE_WASM_INLINING === '0') return
  v8.setFlagsFromString('--wasm-inlining')
}

export function pgliteWasmModule(): Promise<WebAssembly.Module> {
  if (!compiled) tuneWasmCompiler()
  compiled ??= WebAssembly.compile(fs.readFileSync(path.join(pgliteDist(), 'pglite.wasm')))
  return compiled
}
