// The wasm function table of a PGlite instance, so JS can call a C function pointer (ExprState.evalfunc:
// ExecEvalExpr is a static inline in executor.h, i.e. `state->evalfunc(state, econtext, &isnull)`).
// PGlite 0.5.16 exports neither `wasmTable` nor `getWasmTableEntry` on its Module, so a tiny side module
// hands it over the way Emscripten lets side modules run JS: an EM_JS function (an `__em_js__<name>`
// global pointing at "(args)<::>{body}", compiled by the loader inside the runtime's scope) that the
// module's constructor calls once when dlopen loads it. The bytes are assembled here (a few dozen).
import type { Heap } from './heap.js'
import { RTLD_NOW } from './layout.js'
import { dylinkSection, uleb, WASM_HEADER, wasmName, wasmSection, wasmVec } from './sidemodule.js'

const PATH = '/tmp/pyglite_fntable.so'
const NAME = 'pyglite_expose_function_table'
const KEY = 'pygliteFunctionTable'
const JS = `(void)<::>{ Module["${KEY}"] = wasmTable; }`

/** The side module: imports memory, __memory_base and the EM_JS function; its ctor calls that function. */
function moduleBytes(): Uint8Array {
  const data = [...Buffer.from(JS, 'utf8'), 0]
  const I32 = 0x7f
  return new Uint8Array([
    ...WASM_HEADER,
    ...dylinkSection(data.length, 0), // the loader wants dylink.0 first; the data is a byte string
    ...wasmSection(1, wasmVec([[0x60, 0, 0]])), // type 0: () -> ()
    ...wasmSection(
      2,
      wasmVec([
        [...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, 0x00],
        [...wasmName('env'), ...wasmName('__memory_base'), 0x03, I32, 0x00],
        [...wasmName('env'), ...wasmName(NAME), 0x00, 0x00],
      ]),
    ),
    ...wasmSection(3, wasmVec([[0]])), // function 1 (after the imported one): type 0
    ...wasmSection(6, wasmVec([[I32, 0x00, 0x41, 0x00, 0x0b]])), // global 1: i32 const 0 (the string's offset)
    ...wasmSection(
      7,
      wasmVec([
        [...wasmName('__wasm_call_ctors'), 0x00, 1],
        [...wasmName(`__em_js__${NAME}`), 0x03, 1],
      ]),
    ),
    ...wasmSection(10, wasmVec([[4, 0x00, 0x10, 0x00, 0x0b]])), // ctor: call 0
    ...wasmSection(11, wasmVec([[0x00, 0x23, 0x00, 0x0b, ...uleb(data.length), ...data]])), // at __memory_base
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
