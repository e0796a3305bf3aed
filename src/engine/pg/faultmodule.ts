// A deliberately broken C library for the containment tests (test/containment): `$libdir/pyglite_test_faults`
// exports V1 functions that fail the ways a real library can — a wasm trap (`unreachable`), a call to a
// C function nobody provides (before missing.ts: Emscripten's lazy import stub threw "_ is not a function",
// the crash of issue 20), a JavaScript exception from a function the library calls, and a trap inside a
// critical section (START_CRIT_SECTION, then `unreachable`: beyond recovery, as PostgreSQL would PANIC).
// Installed only when PYGLITE_TEST_FAULTS=1 is in the environment.
import type { Heap } from './heap.js'
import { buildJsModule, type JsFunction, loadJsModule } from './jsexports.js'
import { assembleSideModule, pgMagic, u32le, watBytes } from './sidemodule.js'

export const FAULTS_ENV = 'PYGLITE_TEST_FAULTS'
const FILE = '/pglite/lib/postgresql/pyglite_test_faults.so'

async function build(): Promise<Uint8Array> {
  const data = [...u32le(1), ...pgMagic()] // Pg_finfo_record { api_version = 1 }, then Pg_magic_struct
  const mb = '(global.get $mb)'
  const wat = `(module
  (import "env" "memory" (memory 0))
  (import "env" "__memory_base" (global $mb i32))
  (import "env" "pyglite_test_no_such_symbol" (func $missing (param i32) (result i32)))
  (import "env" "pyglite_test_start_crit_section" (func $crit))
  (import "env" "pyglite_test_js_throw" (func $throw))
  (func (export "Pg_magic_func") (result i32) (i32.add ${mb} (i32.const 4)))
  (func $finfo (result i32) ${mb})
  (export "pg_finfo_pyglite_test_trap" (func $finfo))
  (export "pg_finfo_pyglite_test_missing" (func $finfo))
  (export "pg_finfo_pyglite_test_critical" (func $finfo))
  (export "pg_finfo_pyglite_test_js" (func $finfo))
  (func (export "pyglite_test_js") (param i32) (result i32) (call $throw) (i32.const 0))
  (func (export "pyglite_test_critical") (param i32) (result i32) (call $crit) unreachable)
  (func (export "pyglite_test_trap") (param i32) (result i32) unreachable)
  (func (export "pyglite_test_missing") (param i32) (result i32) (call $missing (local.get 0)))
  (data ${mb} "${watBytes(data)}")
)`
  return assembleSideModule('faults.wat', wat, data.length)
}

/** Write the library into the instance's $libdir when the tests asked for it. */
export async function installTestFaults(heap: Heap): Promise<void> {
  if (process.env[FAULTS_ENV] !== '1') return
  const M = heap.M
  // START_CRIT_SECTION() is a macro (CritSectionCount++), so the helper that does it is a JS one
  const crit: JsFunction[] = [
    {
      name: 'pyglite_test_start_crit_section',
      params: 0,
      returns: false,
      body: () => {
        heap.setU32(M._CritSectionCount as number, heap.u32at(M._CritSectionCount as number) + 1)
        return undefined
      },
    },
    {
      name: 'pyglite_test_js_throw',
      params: 0,
      returns: false,
      body: () => {
        throw new TypeError('simulated failure in JavaScript')
      },
    },
  ]
  loadJsModule(heap, '/pglite/lib/postgresql/pyglite_test_crit.so', await buildJsModule(crit), crit)
  M.FS.writeFile(FILE, await build())
}
