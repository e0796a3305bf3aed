// The wasm function table of a PGlite instance, so JS can call a C function pointer (ExprState.evalfunc:
// ExecEvalExpr is a static inline in executor.h, i.e. `state->evalfunc(state, econtext, &isnull)`).
// PGlite 0.5.16 exports neither `wasmTable` nor `getWasmTableEntry` on its Module, so a tiny side module
// hands it over the way Emscripten lets side modules run JS: an EM_JS function (an `__em_js__<name>`
// global pointing at "(args)<::>{body}", compiled by the loader inside the runtime's scope) that the
// module's constructor calls once when dlopen loads it. The bytes are assembled here (a few dozen).
import type { Heap } from './heap.js'
import { RTLD_NOW } from './layout.js'
import { dylinkSection, uleb } from './sidemodule.js'

const PATH = '/tmp/pyglite_fntable.so'
const NAME = 'pyglite_expose_function_table'
const KEY = 'pygliteFunctionTable'
const JS = `(void)<::>{ Module["${KEY}"] = wasmTable; }`

const enc = (s: string): number[] => [...Buffer.from(s, 'utf8')]
const str = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...enc(s)]
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]

/** The side module: imports memory, __memory_base and the EM_JS function; its ctor calls that function. */
function moduleBytes(): Uint8Array {
  const data = [...enc(JS), 0]
  const I32 = 0x7f
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...dylinkSection(data.length, 0), // the loader wants dylink.0 first; the data is a byte string
    ...section(1, vec([[0x60, 0, 0]])), // type 0: () -> ()
    ...section(
      2,
      vec([
        [...str('env'), ...str('memory'), 0x02, 0x00, 0x00],
        [...str('env'), ...str('__memory_base'), 0x03, I32, 0x00],
        [...str('env'), ...str(NAME), 0x00, 0x00],
      ]),
    ),
    ...section(3, vec([[0]])), // function 1 (after the imported one): type 0
    ...section(6, vec([[I32, 0x00, 0x41, 0x00, 0x0b]])), // global 1: i32 const 0 (the string's offset)
    ...section(
      7,
      vec([
        [...str('__wasm_call_ctors'), 0x00, 1],
        [...str(`__em_js__${NAME}`), 0x03, 1],
      ]),
    ),
    ...section(10, vec([[4, 0x00, 0x10, 0x00, 0x0b]])), // ctor: call 0
    ...section(11, vec([[0x00, 0x23, 0x00, 0x0b, ...uleb(data.length), ...data]])), // at __memory_base
  ])
}

/** The instance's function table (dlopens the side module the first time). */
export function functionTable(heap: Heap): WebAssembly.Table {
  const M = heap.M
  let t = M[KEY] as WebAssembly.Table | undefined
  if (t) return t
  const FS = M.FS
  if (!FS.analyzePath('/tmp').exists) FS.mkdirTree('/tmp')
  FS.writeFile(PATH, moduleBytes())
  const h = M._dlopen(heap.cstr(PATH), RTLD_NOW) as number
  if (!h) throw new Error(`dlopen(${PATH}) failed: ${heap.str(M._dlerror())}`)
  t = M[KEY] as WebAssembly.Table | undefined
  if (!(t instanceof WebAssembly.Table)) throw new Error('the function table was not handed over')
  return t
}
