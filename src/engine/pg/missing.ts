// C functions that PostgreSQL's loadable libraries import but nobody provides (PGlite's main module does not
// export them, no other library does): calling one made Emscripten's lazy import stub throw "_ is not a
// function". Before a library is instantiated — when dlopen opens its file — its imports are checked, and
// each missing one is provided by a stub with the import's exact signature (a side module assembled here)
// that calls one JS function, which raises `ERROR: function pg_saslprep is not supported by pyglite` (0A000;
// the detail names the libraries). PGlite's own libraries in $libdir are checked together, at the first
// open of any library (their exports count as provided for the others): a start that loads none pays
// nothing (reading and parsing them, and the raising module's dlopen, were ~80 ms of every open).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { logger } from '../../util/log.js'
import type { Elog } from './elog.js'
import type { Heap } from './heap.js'
import { buildJsModule, loadJsModule } from './jsexports.js'
import { RTLD_GLOBAL, RTLD_NOW } from './layout.js'
import { dylinkSection, uleb, WASM_HEADER, wasmName, wasmSection, wasmVec } from './sidemodule.js'

const LIB_DIR = '/pglite/lib/postgresql'
/** Emscripten's loader makes these itself (resolveGlobalSymbol: invoke_*; the runtime's tempRet helpers). */
const RUNTIME = /^(invoke_\w+|setTempRet0|getTempRet0)$/
// wasm value types (binary format): 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64
const LETTER: Record<number, string> = { 127: 'i', 126: 'j', 125: 'f', 124: 'd' }
const VALTYPE: Record<string, number> = { i: 0x7f, j: 0x7e, f: 0x7d, d: 0x7c }
/** The JS function every stub calls with its number (jsexports.ts; it raises the 0A000). */
const RAISE = 'pyglite_missing_function'

interface Sections {
  /** function imports from "env": name → signature in Emscripten's letters (result first) */
  imports: Map<string, string>
  exports: string[]
}

/** The import and export sections of a wasm binary (the code is not compiled). */
export function sections(b: Uint8Array): Sections {
  let p = 8
  const uleb = (): number => {
    const [v, next] = readUleb(b, p)
    p = next
    return v
  }
  const name = (): string => {
    const n = uleb()
    const s = Buffer.from(b.buffer, b.byteOffset + p, n).toString('utf8') // a view: no copy
    p += n
    return s
  }
  const types: string[] = []
  const out: Sections = { imports: new Map(), exports: [] }
  while (p < b.length) {
    const id = b[p++]!
    const size = uleb()
    const end = p + size
    if (id === 1) {
      for (let n = uleb(); n > 0; n--) {
        p++ // 0x60
        const params = Array.from({ length: uleb() }, () => LETTER[b[p++]!] ?? '?').join('')
        const results = Array.from({ length: uleb() }, () => LETTER[b[p++]!] ?? '?').join('')
        types.push((results || 'v') + params)
      }
    } else if (id === 2) {
      for (let n = uleb(); n > 0; n--) {
        const mod = name()
        const field = name()
        const kind = b[p++]!
        if (kind === 0) {
          const t = types[uleb()]!
          if (mod === 'env') out.imports.set(field, t)
        } else if (kind === 1) {
          p++
          if (uleb() & 1) uleb()
          uleb()
        } else if (kind === 2) {
          if (uleb() & 1) uleb()
          uleb()
        } else if (kind === 3) p += 2
      }
    } else if (id === 7) {
      for (let n = uleb(); n > 0; n--) {
        out.exports.push(name())
        p++
        uleb()
      }
      break // the code and data sections follow: nothing more to read
    }
    p = end
  }
  return out
}

/** The head of a wasm file up to the end of its export section (pglite.wasm: ~0.3 MB of 9 MB). */
function readHead(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    let have = Math.min(size, 1 << 20)
    for (;;) {
      const buf = Buffer.alloc(have)
      fs.readSync(fd, buf, 0, have, 0)
      if (have === size || exportsEnd(buf) <= have) return buf
      have = Math.min(size, have * 4)
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** Where the export section ends (Infinity if the head is too short to tell). */
function exportsEnd(b: Uint8Array): number {
  let p = 8
  while (p < b.length) {
    const id = b[p++]!
    const [size, next] = readUleb(b, p)
    const end = size + next
    if (id === 7 || end > b.length) return end
    p = end
  }
  return Number.POSITIVE_INFINITY
}

/** The unsigned LEB128 at b[p] (ended by the buffer's end if cut short): its value and the offset after it. */
function readUleb(b: Uint8Array, p: number): [number, number] {
  let r = 0
  let s = 0
  let x: number
  do {
    x = b[p++] ?? 0
    r += (x & 0x7f) * 2 ** s
    s += 7
  } while (x & 0x80 && p < b.length)
  return [r, p]
}

/** Signed LEB128 of a non-negative number (an i32.const operand). */
const sleb = (n: number): number[] => {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>>= 7
    if (n === 0 && !(b & 0x40)) return [...out, b]
    out.push(b | 0x80)
  }
}

/**
 * A side module exporting `stubs` (name, signature in Emscripten's letters), each `RAISE(first + i);
 * unreachable`: the exact signature each importer expects, whatever it is, and one JS function behind all of
 * them. A few hundred bytes, assembled here (no wabt at run time).
 */
function stubModule(stubs: Array<[string, string]>, first: number): Uint8Array {
  const sigs = [...new Set(stubs.map(([, sig]) => sig))]
  const type = (sig: string): number[] => [
    0x60,
    ...wasmVec([...sig.slice(1)].map((c) => [VALTYPE[c]!])),
    ...wasmVec(sig[0] === 'v' ? [] : [[VALTYPE[sig[0]!]!]]),
  ]
  const body = (k: number): number[] => {
    const code = [0x00, 0x41, ...sleb(k), 0x10, 0x00, 0x00, 0x0b] // no locals; i32.const k; call 0; unreachable
    return [...uleb(code.length), ...code]
  }
  return new Uint8Array([
    ...WASM_HEADER,
    ...dylinkSection(0, 0),
    ...wasmSection(1, wasmVec([type('vi'), ...sigs.map(type)])),
    ...wasmSection(2, wasmVec([[...wasmName('env'), ...wasmName(RAISE), 0x00, 0x00]])),
    ...wasmSection(3, wasmVec(stubs.map(([, sig]) => uleb(1 + sigs.indexOf(sig))))),
    ...wasmSection(7, wasmVec(stubs.map(([name], i) => [...wasmName(name), 0x00, ...uleb(1 + i)]))),
    ...wasmSection(10, wasmVec(stubs.map((_, i) => body(first + i)))),
  ])
}

let mainNames: Set<string> | undefined

/** What PGlite's main module exports and what its JS runtime gives it (its imports), read once. */
function mainModuleNames(): Set<string> {
  if (mainNames) return mainNames
  const dist = path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
  const s = sections(readHead(path.join(dist, 'pglite.wasm')))
  mainNames = new Set([...s.exports, ...s.imports.keys()])
  return mainNames
}

/** Install the check into one instance: every library dlopen reads, PGlite's own ones with the first. */
export async function guardMissingSymbols(heap: Heap, elog: Elog): Promise<void> {
  const M = heap.M
  const missing: Array<{ name: string; libs: string[] }> = []
  const byName = new Map<string, { name: string; libs: string[] }>()
  const raise = {
    name: RAISE,
    params: 1,
    returns: false,
    body: (k: number) => {
      const f = missing[k]!
      const libs =
        f.libs.length > 3
          ? `${f.libs.slice(0, 3).join(', ')} and ${f.libs.length - 3} more`
          : f.libs.join(', ')
      elog.raise(`function ${f.name} is not supported by pyglite`, {
        sqlstate: '0A000',
        detail: `PGlite, the PostgreSQL build pyglite runs, lacks this C function, which ${libs} need.`,
      })
    },
  }
  const raiseBytes = await buildJsModule([raise]) // assembled now (async); dlopened with the first stubs
  let raiseLoaded = false
  let ownChecked = false
  const known = new Set<string>() // exported by a library of this instance, or stubbed already
  const seen = new Set<string>()
  let n = 0
  /** Provided by the runtime, the main module (its exports, the cheap test first, or its JS imports) or a library. */
  const provided = (name: string) =>
    RUNTIME.test(name) ||
    typeof M[`_${name}`] === 'function' ||
    known.has(name) ||
    mainModuleNames().has(name)
  /** Libraries about to be loaded: their exports count as provided before their imports are checked. */
  const check = (libs: Array<[string, Uint8Array]>) => {
    const parsed: Array<[string, Sections]> = []
    for (const [file, bytes] of libs) {
      if (seen.has(file)) continue
      seen.add(file)
      try {
        parsed.push([path.basename(file), sections(bytes)])
      } catch {
        // not a wasm library: the loader will say so
      }
    }
    for (const [, s] of parsed) for (const e of s.exports) known.add(e)
    // a name nobody here provides may be one of PGlite's own libraries' exports: those are read first
    // (pyglite's own modules, dlopened at every open, import only what the main module has)
    if (!ownChecked && parsed.some(([, s]) => [...s.imports.keys()].some((name) => !provided(name))))
      checkOwn()
    const stubs: Array<[string, string]> = []
    const first = missing.length
    for (const [lib, s] of parsed) {
      for (const [name, sig] of s.imports) {
        const stubbed = byName.get(name)
        if (stubbed) {
          if (!stubbed.libs.includes(lib)) stubbed.libs.push(lib)
          continue
        }
        if (provided(name)) continue
        if (sig.includes('?')) continue
        known.add(name)
        stubs.push([name, sig])
        const entry = { name, libs: [lib] }
        missing.push(entry)
        byName.set(name, entry)
      }
    }
    if (!stubs.length) return
    logger('engine').debug(
      { libraries: parsed.map(([l]) => l), missing: stubs.map(([name]) => name) },
      'missing C functions',
    )
    if (!raiseLoaded) {
      loadJsModule(heap, '/tmp/pyglite_missing.so', raiseBytes, [raise])
      raiseLoaded = true
    }
    const file = `/tmp/pyglite_missing_${++n}.so`
    M.FS.writeFile(file, stubModule(stubs, first))
    if (!M._dlopen(heap.cstr(file), RTLD_NOW | RTLD_GLOBAL)) throw new Error(`dlopen(${file}) failed`)
  }
  const FS = M.FS as unknown as {
    readdir(p: string): string[]
    lstat(p: string): { mode: number }
    isLink(mode: number): boolean
    readFile(p: string, o?: unknown): Uint8Array | string
    open(p: unknown, ...rest: unknown[]): unknown
  }
  /** PGlite's own libraries (links into the contrib cache are left for their first dlopen), once. */
  function checkOwn(): void {
    if (ownChecked) return
    ownChecked = true
    const own: Array<[string, Uint8Array]> = []
    for (const f of FS.readdir(LIB_DIR)) {
      const file = `${LIB_DIR}/${f}`
      if (f.endsWith('.so') && !FS.isLink(FS.lstat(file).mode))
        own.push([file, FS.readFile(file) as Uint8Array])
    }
    check(own)
  }
  // dlopen reads the file through libc (open, read) before the loader sees it: check it when it is opened
  const open = FS.open.bind(FS)
  let inside = false
  FS.open = (p: unknown, ...rest: unknown[]) => {
    if (!inside && typeof p === 'string' && p.endsWith('.so') && !seen.has(p)) {
      inside = true
      try {
        const data = FS.readFile(p)
        if (data instanceof Uint8Array) check([[p, data]])
      } catch {
        // not readable: the open below reports it
      } finally {
        inside = false
      }
    }
    return open(p, ...rest)
  }
}
