// The Python host: starts CPython through node-calls-python (the only importer of it), loads our native
// addon on the same interpreter, and imports the pyglite_host package. Runs on the engine thread only.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { PgError } from '../engine/pg/elog.js'
import { pkgPath } from '../util/paths.js'

const require = createRequire(import.meta.url)

/** node-calls-python's raw binding (we bypass its index.js: it spawns python3-config at require time). */
interface NcpInterpreter {
  importSync(name: string, allowReimport: boolean): NcpHandle
  callSync(handle: NcpHandle, fn: string, ...args: unknown[]): unknown
  addImportPath(path: string): void
  fixlink(path: string): void
}
type NcpHandle = { handler: string }

/** Our addon (native/pyglite.c). */
export interface Native {
  init(dispatch: (...args: unknown[]) => unknown): Int32Array
  setMemory(
    buffer: ArrayBuffer,
    addrInterruptPending: number,
    addrQueryCancelPending: number,
    addrLatchIsSet?: number,
  ): void
  setCodecBuffer(buf: Buffer): void
  setResultBuffer(buf: Buffer): void
  memoryAddress(buffer: ArrayBuffer): number
  enableInterrupts(): void
  execBegin(token: number, timeoutMs: number): void
  execEnd(): void
  cancel(token: number, kind: number): boolean
  cancelKind(): number
  /** bracket a feature's Python call (src/fdw) as a PL/Python call, so plpy may enter the engine: ±1 */
  callDepth(delta: number): void
  /** the per-row call: inputs in stat[10..12] (procId, fcinfo, codec length), Datum out in stat[13] */
  call(): void
  copyText(ptr: number): void
  takeResult(): Buffer
  /** forget the pending TEXT/GENERIC result (its Datum could not be built) */
  dropResult(): void
  lastError(): Array<string | number | null> | null
  releaseProc(id: number): void
  /** call a set-returning function and make an iterator of its result: iterator id, 0 on failure */
  srfStart(procId: number, fcinfo: number, codecLen: number): number
  /** the next item of an iterator (status as for call, or S_DONE) */
  srfNext(iterId: number): number
  srfClose(iterId: number): void
  /** the function serving _pyglite.execute (plpy.execute's common forms): inputs in stat[OPW.*] */
  setSpiOp(fn: (query?: string) => unknown): void
  /** register a result shape for opRows: live attribute indexes, their procedures.ts ARG_KIND, names, descriptor bytes */
  opShape(slot: number, live: number[], kinds: number[], names: string[], desc: Buffer): void
  /** convert a chunk of deformed rows (stat[OPW.*]) into the running operation's row dicts; false: use the codec */
  opRows(): boolean
}

/** Loads the native addon; also usable on the main thread (for cancel) without starting Python. */
export function loadNative(): Native {
  return require(pkgPath('build', 'Release', 'pyglite_native.node')) as Native
}

/** Status words shared with native/call/call.c besides stat[0] (the status). */
export const STATW = {
  reserve: 8,
  reserveLen: 9,
  procId: 10,
  fcinfo: 11,
  codecLen: 12,
  datum: 13,
  /** bytes of a plpy op's result written in the codec buffer, when the op returns the buffer itself */
  opResultLen: 14,
} as const

/** Status words of _pyglite.execute's operation (native/plpy/spiop.c W_*). */
export const OPW = {
  kind: 16,
  plan: 17,
  arg: 18,
  argMode: 19,
  limit: 20,
  shape: 21,
  chunk: 22,
  values: 23,
  nulls: 24,
  natts: 25,
  status: 26,
  processed: 27,
  offset: 28,
} as const

/** Call status in stat[0] (native/call/call.c S_*). */
export const S = {
  DATUM: 0,
  NULL: 1,
  F64: 2,
  I64: 3,
  TEXT: 4,
  GENERIC: 5,
  ERROR: 6,
  NEED_CODEC: 7,
  DONE: 8,
  NOT_ITERABLE: 9,
  GENERIC_INLINE: 10,
} as const

export const CANCEL_USER = 1
export const CANCEL_TIMEOUT = 2

/**
 * The data directory's virtual environment (src/packages): pyglite_host/venv.py puts its site-packages on
 * sys.path in place of the user's and (unless `systemSitePackages`) the system's.
 */
export interface PythonEnvironment {
  venv: string
  /** its site-packages; null: <venv>/lib/pythonX.Y/site-packages (it may not exist yet) */
  site: string | null
  systemSitePackages: boolean
  /** the package operations' log, read by the pyglite.installs view */
  log: string
}

/** Python-side error fields (pyglite_host/errors.py FIELDS). */
export type ErrorTuple = Array<string | number | null>

export interface PythonHost {
  readonly native: Native
  readonly stat: Int32Array
  readonly version: string
  readonly libpython: string
  compile(meta: object): number | ErrorTuple
  validate(meta: object): ErrorTuple | null
  /** point a procedure's result converter at a descriptor (JSON of output.ts PyDesc) */
  setResultDesc(procId: number, descJson: string): ErrorTuple | null
  dropSession(sid: number): void
  /** call `module.fn(*args)` of a package on sys.path (features built on Python, e.g. src/fdw) */
  callPython(module: string, fn: string, ...args: unknown[]): unknown
}

function mappedLibpython(): string[] {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8')
  const libs = new Set<string>()
  for (const line of maps.split('\n')) {
    const p = line.trim().split(/\s+/)[5]
    if (p && /\/libpython3\.\d+\.so/.test(p)) libs.add(p)
  }
  return [...libs]
}

function isErrorReturn(v: unknown): v is ['error', ErrorTuple] {
  return Array.isArray(v) && v[0] === 'error'
}

/**
 * Start Python on this thread. `plpy.dispatch` receives every plpy → engine call (op, ...args) and must
 * never throw; `plpy.execute` serves the common forms of plpy.execute (native/plpy/spiop.c). `sysPath` entries are appended to sys.path (site-packages a user wants to import from).
 */
export function startPythonHost(
  plpy: { dispatch: (...args: unknown[]) => unknown; execute: (query?: string) => unknown },
  sysPath: string[],
  environment?: PythonEnvironment,
): PythonHost {
  const ncpDir = pkgPath('node_modules', 'node-calls-python')
  const binding = require(`${ncpDir}/build/Release/nodecallspython.node`) as {
    PyInterpreter: new () => NcpInterpreter
  }
  const py = new binding.PyInterpreter() // Py_InitializeEx(0) on this thread (once per process)
  const native = loadNative()
  const libs = mappedLibpython()
  if (libs.length !== 1 || !libs[0])
    throw new Error(`expected exactly one libpython in this process, found: ${JSON.stringify(libs)}`)
  py.fixlink(libs[0]) // dlopen(RTLD_GLOBAL) the same libpython so C extension modules resolve against it
  const stat = native.init(plpy.dispatch)
  native.setSpiOp(plpy.execute)
  py.addImportPath(pkgPath('src', 'plpy-shim', 'python'))
  py.addImportPath(pkgPath('src', 'python'))
  py.addImportPath(pkgPath('src', 'fdw', 'python')) // the multicorn package (foreign tables)
  const host = py.importSync('pyglite_host', false)
  const version = py.callSync(host, 'init', JSON.stringify({ sys_path: sysPath, environment }))
  if (isErrorReturn(version)) throw new Error(`Python host failed to start: ${String(version[1][0])}`)
  native.enableInterrupts()
  // pyglite_host's entry points catch every exception, but a cancel's SIGUSR2 handler may raise
  // QueryCanceled at a function's first bytecode, before its try block: it then escapes into JS as a
  // plain error. Report it as the cancel it is (57014), never as an internal error.
  const modules = new Map<string, NcpHandle>()
  const call = (fn: string, ...args: unknown[]): unknown => call1(host, fn, ...args)
  const call1 = (m: NcpHandle, fn: string, ...args: unknown[]): unknown => {
    try {
      return py.callSync(m, fn, ...args)
    } catch (e) {
      const kind = native.cancelKind()
      if (!kind) throw e
      throw new PgError(
        kind === 2
          ? 'canceling statement due to statement timeout'
          : 'canceling statement due to user request',
        { sqlstate: '57014' },
      )
    }
  }
  return {
    native,
    stat,
    version: String(version),
    libpython: libs[0],
    compile(meta) {
      const r = call('compile_procedure', JSON.stringify(meta))
      if (isErrorReturn(r)) return r[1]
      return r as number
    },
    validate(meta) {
      const r = call('validate', JSON.stringify(meta))
      return isErrorReturn(r) ? r[1] : null
    },
    setResultDesc(procId, descJson) {
      const r = call('set_result_desc', procId, descJson)
      return isErrorReturn(r) ? r[1] : null
    },
    dropSession(sid) {
      py.callSync(host, 'drop_session', sid)
    },
    callPython(module, fn, ...args) {
      let m = modules.get(module)
      if (!m) {
        m = py.importSync(module, false)
        modules.set(module, m)
      }
      return call1(m, fn, ...args)
    },
  }
}
