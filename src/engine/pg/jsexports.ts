// A side module whose exported C functions have JavaScript bodies: loaded with RTLD_GLOBAL, its exports join
// the global symbol table, so other side modules' imports of those names (resolved lazily by Emscripten's
// loader) land in JS. Used for C functions PGlite's main module does not export (encodings/, the test hooks).
// Same mechanism as plpython3.so (sidemodule.ts): each export calls its JS function through a table slot.
import type { Heap } from './heap.js'
import { RTLD_GLOBAL, RTLD_NOW } from './layout.js'
import { dylinkSection } from './sidemodule.js'
import { assembleWat } from './wat.js'

/** One exported C function: `int name(int, …)` (returns) or `void name(int, …)`; every argument an i32. */
export interface JsFunction {
  name: string
  params: number
  returns: boolean
  // biome-ignore lint/suspicious/noExplicitAny: wasm passes i32s; each body names its own parameters
  body: (...args: any[]) => number | undefined
}

const slotSymbol = (name: string): string => `pyglite_js_slot_${name}`
const typeName = (f: JsFunction): string => `$t${f.params}${f.returns ? 'i' : 'v'}`

function buildWat(fns: JsFunction[]): string {
  const types = new Map<string, string>()
  for (const f of fns) {
    const params = f.params ? `(param${' i32'.repeat(f.params)})` : ''
    types.set(typeName(f), `(type ${typeName(f)} (func ${params} ${f.returns ? '(result i32)' : ''}))`)
  }
  const funcs = fns.map((f, i) => {
    const params = f.params ? `(param${' i32'.repeat(f.params)})` : ''
    const args = Array.from({ length: f.params }, (_, k) => `(local.get ${k})`).join(' ')
    return [
      `(global (export "${slotSymbol(f.name)}") i32 (i32.const ${i * 4}))`,
      `(func (export "${f.name}") ${params} ${f.returns ? '(result i32)' : ''}`,
      `  (call_indirect (type ${typeName(f)}) ${args} (i32.load (i32.add (global.get $mb) (i32.const ${i * 4})))))`,
    ].join('\n  ')
  })
  return `(module
  ${[...types.values()].join('\n  ')}
  (import "env" "memory" (memory 0))
  (import "env" "__indirect_function_table" (table 0 funcref))
  (import "env" "__memory_base" (global $mb i32))
  ${funcs.join('\n  ')}
)`
}

const built = new Map<string, Uint8Array>()

/** The module's bytes for these functions (names and signatures; cached per set). */
export async function buildJsModule(fns: JsFunction[]): Promise<Uint8Array> {
  const key = fns.map((f) => `${f.name}/${f.params}/${f.returns}`).join(',')
  const hit = built.get(key)
  if (hit) return hit
  const buffer = await assembleWat('jsexports.wat', buildWat(fns))
  const sec = dylinkSection(Math.max(4, fns.length * 4)) // the slots: one i32 each, zeroed by the loader
  const out = new Uint8Array(buffer.length + sec.length)
  out.set(buffer.subarray(0, 8), 0)
  out.set(sec, 8) // dylink.0 must come first
  out.set(buffer.subarray(8), 8 + sec.length)
  new WebAssembly.Module(out)
  built.set(key, out)
  return out
}

/**
 * Write the module to `file` in the instance's file system, dlopen it (RTLD_GLOBAL: its symbols resolve other
 * modules' imports) and point each export at its JS body. Call before anything can call these symbols.
 */
export function loadJsModule(heap: Heap, file: string, bytes: Uint8Array, fns: JsFunction[]): void {
  const M = heap.M
  const dir = file.slice(0, file.lastIndexOf('/'))
  if (!M.FS.analyzePath(dir).exists) M.FS.mkdirTree(dir)
  M.FS.writeFile(file, bytes)
  const h = M._dlopen(heap.cstr(file), RTLD_NOW | RTLD_GLOBAL) as number
  if (!h) throw new Error(`dlopen(${file}) failed: ${heap.str(M._dlerror())}`)
  for (const f of fns) {
    const addr = M._dlsym(h, heap.cstr(slotSymbol(f.name))) as number
    if (!addr) throw new Error(`dlsym(${slotSymbol(f.name)}) failed: ${heap.str(M._dlerror())}`)
    const sig = (f.returns ? 'i' : 'v') + 'i'.repeat(f.params)
    heap.setU32(addr, M.addFunction(f.body, sig))
  }
}
