// Generates plpython3.so: a tiny Emscripten wasm32 side module whose exported V1 functions forward
// every call to a JavaScript callback through a function-table slot (call_indirect).
// Built at run time from WAT with npm `wabt`; the loader needs a `dylink.0` section first, which we splice in.
// Facts: ../shared/notes/pglite-bridge-study.md §2–3. Exports keep PL/Python's real symbol names, so the
// catalog rows (probin '$libdir/plpython3', prosrc 'plpython3_call_handler', …) match a stock server.
import { ABI } from './layout.js'
import { assembleWat } from './wat.js'

/** The three entry points; each has its own slot so JS knows which one PostgreSQL called. */
export const ENTRY_POINTS = ['call_handler', 'inline_handler', 'validator'] as const
export type EntryPoint = (typeof ENTRY_POINTS)[number]

/** Symbol names exported for each entry point: plpython3u's, and plpythonu's (the alias language). */
export function symbolsFor(entry: EntryPoint): string[] {
  return [`plpython3_${entry}`, `plpython_${entry}`]
}

/** Data symbol holding the slot of an entry point (the table index of its JS callback). */
export function slotSymbol(entry: EntryPoint): string {
  return `pyglite_slot_${entry}`
}

export const u32le = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255]
const cstr = (s: string): number[] => [...Buffer.from(s, 'utf8'), 0]
export const watBytes = (bytes: number[]): string =>
  bytes.map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')

/** Unsigned LEB128, the wasm binary format's integer encoding. */
export function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n) b |= 0x80
    out.push(b)
  } while (n)
  return out
}

/** The wasm binary format's magic number and version 1, the first 8 bytes of every module. */
export const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
/** A name: its UTF-8 length, then its bytes. */
export const wasmName = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s, 'utf8')]
/** A vector: the item count, then the items. */
export const wasmVec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
/** A section: its id, its body's length, the body. */
export const wasmSection = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]

/**
 * The Pg_magic_struct a side module's Pg_magic_func returns (PG 18): int len; Pg_abi_values {version,
 * funcmaxargs, indexmaxkeys, namedatalen, float8byval, abi_extra[32]}; const char *name; const char
 * *version (NULL: would need relocations).
 */
export function pgMagic(): number[] {
  const abiExtra = [...Buffer.from('PostgreSQL', 'utf8')]
  while (abiExtra.length < 32) abiExtra.push(0)
  return [
    ...u32le(64),
    ...u32le(ABI.pgMajor * 100),
    ...u32le(ABI.funcMaxArgs),
    ...u32le(ABI.indexMaxKeys),
    ...u32le(ABI.nameDataLen),
    ...u32le(ABI.float8ByVal),
    ...abiExtra,
    ...u32le(0),
    ...u32le(0),
  ]
}

function buildWat(): { wat: string; memSize: number } {
  const data: number[] = []
  const off: Record<string, number> = {}
  const put = (name: string, bytes: number[], align = 4) => {
    while (data.length % align) data.push(0)
    off[name] = data.length
    data.push(...bytes)
  }
  put('finfo', u32le(1)) // Pg_finfo_record { int api_version = 1 }
  for (const e of ENTRY_POINTS) put(`slot_${e}`, u32le(0))
  put('magic', pgMagic())
  put('msg', cstr('plpython3u: the pyglite engine is not attached to this database instance'), 1)
  put('file', cstr('plpython3.so'), 1)
  put('func', cstr('plpython3_call_handler'), 1)
  const memSize = (data.length + 3) & ~3
  const mb = '(global.get $mb)'
  const entries = ENTRY_POINTS.map((e) => {
    const slot = `(i32.add ${mb} (i32.const ${off[`slot_${e}`]}))`
    const body = `(param $fcinfo i32) (result i32)
    (local $slot i32)
    (local.set $slot (i32.load ${slot}))
    (if (i32.eqz (local.get $slot)) (then (call $raise_unattached)))
    (call_indirect (type $pgfn) (local.get $fcinfo) (local.get $slot))`
    const [primary, ...aliases] = symbolsFor(e)
    return [
      `(global (export "${slotSymbol(e)}") i32 (i32.const ${off[`slot_${e}`]}))`,
      `(func $${e} (export "${primary}") ${body})`,
      ...aliases.map((a) => `(export "${a}" (func $${e}))`),
      ...symbolsFor(e).map((s) => `(export "pg_finfo_${s}" (func $finfo))`),
    ].join('\n  ')
  })
  const wat = `(module
  (type $pgfn (func (param i32) (result i32)))
  (import "env" "memory" (memory 0))
  (import "env" "__indirect_function_table" (table 0 funcref))
  (import "env" "__memory_base" (global $mb i32))
  (import "env" "errstart" (func $errstart (param i32 i32) (result i32)))
  (import "env" "errmsg_internal" (func $errmsg_internal (param i32 i32) (result i32)))
  (import "env" "errfinish" (func $errfinish (param i32 i32 i32)))
  (func (export "Pg_magic_func") (result i32) (i32.add ${mb} (i32.const ${off.magic})))
  (func $finfo (result i32) (i32.add ${mb} (i32.const ${off.finfo})))
  (func $raise_unattached
    (drop (call $errstart (i32.const 21) (i32.const 0)))
    (drop (call $errmsg_internal (i32.add ${mb} (i32.const ${off.msg})) (i32.const 0)))
    (call $errfinish (i32.add ${mb} (i32.const ${off.file})) (i32.const 1) (i32.add ${mb} (i32.const ${off.func})))
    unreachable)
  ${entries.join('\n  ')}
  (data ${mb} "${watBytes(data)}")
)`
  return { wat, memSize }
}

/**
 * The `dylink.0` custom section Emscripten's loader wants first in a side module: WASM_DYLINK_MEM_INFO
 * with the module's data size and alignment (log2), and no table.
 */
export function dylinkSection(memSize: number, memAlignLog2 = 2): number[] {
  const memInfo = [...uleb(memSize), ...uleb(memAlignLog2), ...uleb(0), ...uleb(0)] // memsize, memalign(p2), table
  const name = Buffer.from('dylink.0')
  const payload = [...uleb(name.length), ...name, 1, ...uleb(memInfo.length), ...memInfo]
  return [0, ...uleb(payload.length), ...payload]
}

/**
 * A side module from WebAssembly text: assembled (wat.ts, cached on disk) with the `dylink.0` section of a
 * module whose data is `memSize` bytes put first, where Emscripten's loader requires it.
 */
export async function assembleSideModule(
  name: string,
  wat: string,
  memSize: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const buffer = await assembleWat(name, wat)
  const sec = dylinkSection(memSize)
  const out = new Uint8Array(buffer.length + sec.length)
  out.set(buffer.subarray(0, 8), 0) // magic + version
  out.set(sec, 8)
  out.set(buffer.subarray(8), 8 + sec.length)
  return out
}

let cached: Uint8Array | undefined

/** The side module's bytes (built once per process; assembled text cached on disk, wat.ts). */
export async function buildSideModule(): Promise<Uint8Array> {
  if (cached) return cached
  const { wat, memSize } = buildWat()
  const out = await assembleSideModule('plpython3.wat', wat, memSize)
  new WebAssembly.Module(out) // must compile
  cached = out
  return out
}
