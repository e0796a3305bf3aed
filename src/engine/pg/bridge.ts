// Attaches the language to one PGlite instance: installs plpython3.so and the extension files, points its
// three entry points at JS callbacks, and enforces the bridge's hard rules (../shared/DESIGN.md §2):
// no JS exception escapes into wasm, PGlite's protocol is never re-entered, nesting depth is capped.
import type { PGlite } from '@electric-sql/pglite'
import { Elog, isLongjmp, PgError } from './elog.js'
import type { Heap } from './heap.js'
import { RTLD_GLOBAL, RTLD_NOW } from './layout.js'
import { ENTRY_POINTS, type EntryPoint, slotSymbol } from './sidemodule.js'

export const LIB_DIR = '/pglite/lib/postgresql'
export const EXT_DIR = '/pglite/share/postgresql/extension'
export const MODULE_FILE = `${LIB_DIR}/plpython3.so`

/** What the language implementation provides: one function per entry point, each returning a Datum. */
export interface LanguageRuntime {
  call(fcinfo: number): number
  inline(fcinfo: number): number
  validate(fcinfo: number): number
}

/** PostgreSQL's limit message for runaway recursion (postgres.c check_stack_depth). */
export const STACK_DEPTH_ERROR = {
  message: 'stack depth limit exceeded',
  hint:
    'Increase the configuration parameter "max_stack_depth" (currently 2048kB), after ensuring the ' +
    "platform's stack depth limit is adequate.",
}

function controlFile(lang: string, comment: string, requires?: string): string {
  return [
    `# ${lang}: PL/Python served by pyglite (CPython in the host process)`,
    `comment = '${comment}'`,
    "default_version = '1.0'",
    "module_pathname = '$libdir/plpython3'",
    'relocatable = false',
    'schema = pg_catalog',
    'superuser = true',
    ...(requires ? [`requires = '${requires}'`] : []),
    '',
  ].join('\n')
}

const C3 = 'PL/Python3U untrusted procedural language'
const CU = 'PL/PythonU untrusted procedural language (Python 3)'

/**
 * `LANGUAGE plpythonu` (the name PostgreSQL 14 and older gave PL/Python) is a second language of the
 * plpython3u extension: it exists wherever plpython3u does, and since it is an extension member pg_dump
 * writes only `CREATE EXTENSION plpython3u`. Its validator (plpython_validator) stores each function as
 * LANGUAGE plpython3u (runtime.ts), so dumps restore into PostgreSQL 15+, which has no plpythonu.
 */
export const PLPYTHONU_SQL = `CREATE FUNCTION plpython_validator(oid) RETURNS void STRICT LANGUAGE c AS '$libdir/plpython3';
CREATE LANGUAGE plpythonu HANDLER plpython3_call_handler INLINE plpython3_inline_handler VALIDATOR plpython_validator;
COMMENT ON LANGUAGE plpythonu IS '${CU}';
`

function plpython3uScript(): string {
  return `\\echo Use "CREATE EXTENSION plpython3u" to load this file. \\quit
CREATE FUNCTION plpython3_call_handler() RETURNS language_handler LANGUAGE c AS 'MODULE_PATHNAME';
CREATE FUNCTION plpython3_inline_handler(internal) RETURNS void STRICT LANGUAGE c AS 'MODULE_PATHNAME';
CREATE FUNCTION plpython3_validator(oid) RETURNS void STRICT LANGUAGE c AS 'MODULE_PATHNAME';
CREATE LANGUAGE plpython3u HANDLER plpython3_call_handler INLINE plpython3_inline_handler VALIDATOR plpython3_validator;
COMMENT ON LANGUAGE plpython3u IS '${C3}';
${PLPYTHONU_SQL}`
}

/** The files of the plpython3u extension and of its plpythonu alias (Python 3 too). */
export function extensionFiles(so: Uint8Array): Array<[string, Uint8Array | string]> {
  return [
    [MODULE_FILE, so],
    [`${EXT_DIR}/plpython3u.control`, controlFile('plpython3u', C3)],
    [`${EXT_DIR}/plpython3u--1.0.sql`, plpython3uScript()],
    // CREATE EXTENSION plpythonu (as dumps of PostgreSQL 14 and older say) is accepted and adds nothing:
    // the language comes with plpython3u
    [`${EXT_DIR}/plpythonu.control`, controlFile('plpythonu', CU, 'plpython3u')],
    [
      `${EXT_DIR}/plpythonu--1.0.sql`,
      '\\echo Use "CREATE EXTENSION plpythonu" to load this file. \\quit\n-- LANGUAGE plpythonu is part of plpython3u\n',
    ],
  ]
}

/** Data directories made before plpythonu joined the plpython3u extension get it at start (once). */
export async function addPlpythonu(db: PGlite): Promise<void> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_extension WHERE extname = 'plpython3u'
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_language WHERE lanname = 'plpythonu')`,
  )
  if (!r.rows[0]?.n) return
  await db.exec(`BEGIN; SET LOCAL search_path = pg_catalog; ${PLPYTHONU_SQL}
    ALTER EXTENSION plpython3u ADD FUNCTION plpython_validator(oid);
    ALTER EXTENSION plpython3u ADD LANGUAGE plpythonu; COMMIT`)
}

export interface BridgeOptions {
  /** Nesting limit of SQL → Python → SQL → … (SQLSTATE 54001 beyond it). */
  maxDepth: number
}

export class Bridge {
  readonly elog: Elog
  depth = 0
  private runtime: LanguageRuntime | undefined
  private readonly slots: number[] = []

  constructor(
    readonly db: PGlite,
    readonly heap: Heap,
    private readonly opts: BridgeOptions,
  ) {
    this.elog = new Elog(heap)
  }

  /** Install the module and extension files into the instance's (in-memory) lib/share directories. */
  static installFiles(heap: Heap, so: Uint8Array): void {
    const FS = heap.M.FS
    for (const [path, data] of extensionFiles(so)) {
      const dir = path.slice(0, path.lastIndexOf('/'))
      if (!FS.analyzePath(dir).exists) FS.mkdirTree(dir)
      FS.writeFile(path, data)
    }
  }

  /** Point the module's slots at our callbacks; guard the protocol entry against re-entry. */
  attach(runtime: LanguageRuntime): void {
    this.runtime = runtime
    const M = this.heap.M
    const handle = this.dlopen()
    for (const entry of ENTRY_POINTS) {
      const slot = M.addFunction((fcinfo: number) => this.enter(entry, fcinfo), 'ii')
      this.slots.push(slot)
      const sym = this.heap.cstr(slotSymbol(entry))
      const addr = M._dlsym(handle, sym) as number
      if (!addr) throw new Error(`dlsym(${slotSymbol(entry)}) failed: ${this.heap.str(M._dlerror())}`)
      this.heap.setU32(addr, slot)
    }
    const db = this.db as PGlite & { execProtocolRawSync(m: Uint8Array): Uint8Array }
    const orig = db.execProtocolRawSync.bind(db)
    db.execProtocolRawSync = (m: Uint8Array) => {
      if (this.depth > 0) throw new Error('PGlite re-entered from inside a PL/Python call (use plpy.execute)')
      return orig(m)
    }
  }

  private dlopen(): number {
    const M = this.heap.M
    const p = this.heap.cstr(MODULE_FILE)
    const h = M._dlopen(p, RTLD_NOW | RTLD_GLOBAL) as number
    if (!h) throw new Error(`dlopen(${MODULE_FILE}) failed: ${this.heap.str(M._dlerror())}`)
    return h
  }

  /** The wasm → JS entry: every exit is a Datum or a PostgreSQL ERROR (longjmp). */
  private enter(entry: EntryPoint, fcinfo: number): number {
    const rt = this.runtime
    this.depth++
    try {
      if (!rt) throw new PgError('plpython3u: language runtime not attached')
      if (this.depth > this.opts.maxDepth)
        throw new PgError(STACK_DEPTH_ERROR.message, { sqlstate: '54001', hint: STACK_DEPTH_ERROR.hint })
      switch (entry) {
        case 'call_handler':
          return rt.call(fcinfo)
        case 'inline_handler':
          return rt.inline(fcinfo)
        case 'validator':
          return rt.validate(fcinfo)
      }
    } catch (e) {
      if (isLongjmp(e)) throw e // a PostgreSQL ERROR unwinding: let it reach its setjmp
      if (e instanceof RangeError && /call stack/i.test(e.message))
        this.elog.raise(STACK_DEPTH_ERROR.message, { sqlstate: '54001', hint: STACK_DEPTH_ERROR.hint })
      this.elog.raiseJs(e)
    } finally {
      this.depth--
    }
  }
}
