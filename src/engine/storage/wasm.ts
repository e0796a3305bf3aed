// PGlite's wasm, compiled once per thread and handed to every instance (and to helper threads, which
// receive a clone of the compiled module instead of compiling the 9 MB file again).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)

/** The directory of PGlite's dist files (pglite.wasm, pglite.data, package.json one level up). */
export function pgliteDist(): string {
  return path.dirname(require.resolve('@electric-sql/pglite'))
}

let compiled: Promise<WebAssembly.Module> | undefined

export function pgliteWasmModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(fs.readFileSync(path.join(pgliteDist(), 'pglite.wasm')))
  return compiled
}
