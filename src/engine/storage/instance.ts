// One database: a PGlite instance on a data directory, with the PL/Python language attached.
import fs from 'node:fs'
import path from 'node:path'
import { type Extensions, PGlite } from '@electric-sql/pglite'
import { installEncodingSupport } from '../../encodings/install.js'
import { installContrib } from '../../extensions/contrib.js'
import { installForeignData } from '../../fdw/install.js'
import { PlPythonRuntime } from '../../plpython/runtime.js'
import type { PythonHost } from '../../python/host.js'
import { logger } from '../../util/log.js'
import { addPlpythonu, Bridge } from '../pg/bridge.js'
import { ErrorContextStack } from '../pg/errcontext.js'
import { installTestFaults } from '../pg/faultmodule.js'
import { Heap } from '../pg/heap.js'
import { guardMissingSymbols } from '../pg/missing.js'
import { selfTest } from '../pg/selftest.js'
import { buildSideModule } from '../pg/sidemodule.js'
import { Spi } from '../pg/spi.js'
import { durabilityParams, nodefsFsync, syncAfterCrash, syncTree } from './durable.js'
import { INITDB_ARGS, START_PARAMS } from './params.js'
import { nodefsSizes } from './sizes.js'
import { pgliteWasmModule } from './wasm.js'

export interface InstanceOptions {
  /** The PGDATA directory of this database's cluster. */
  pgdata: string
  /** The database to connect to in that cluster (PGlite's PGDATABASE; default postgres). */
  database?: string
  host: PythonHost
  maxDepth: number
  /** PGlite extensions to load (the engine's socket-callback recorder) */
  extensions?: Extensions
  /** flush commits and checkpoints to stable storage (default true; see durable.ts) */
  fsync?: boolean
}

/**
 * PGlite, less the array-type parsers of its JS query API (`_initArrayTypes`, "called at the end of init"):
 * they were filled by a catalog query at every open, 120–150 ms as the cold backend's first query. The
 * engine speaks the protocol itself; its few `db.query`/`db.exec` calls read no arrays.
 */
class EnginePGlite extends PGlite {
  override async _initArrayTypes(): Promise<void> {}
}

let trimming = false
let trimmedAt = 0

/**
 * Give freed heap back to the OS (pyglite_host/memory.py: malloc_trim): after an instance started, and then
 * whenever RSS grew by 16 MB since the last trim (checked every 5 s). V8 compiles wasm on background threads,
 * at start-up and when functions get hot, and the freed compile memory stays in glibc's per-thread arenas:
 * ~60 MB after a start, ~30 MB more after the first queries (measured). The timer runs between work
 * items, never inside a statement.
 */
function trimHeap(host: PythonHost): void {
  const trim = () => {
    host.callPython('pyglite_host.memory', 'trim')
    trimmedAt = process.memoryUsage.rss()
  }
  trim()
  if (trimming) return
  trimming = true
  setInterval(() => {
    if (process.memoryUsage.rss() > trimmedAt + 16 * 1024 * 1024) trim()
  }, 5000).unref()
}

/** The instance the native path currently points at (one engine thread serves every open database). */
let activeInstance: Instance | undefined

export class Instance {
  private constructor(
    readonly db: PGlite,
    readonly heap: Heap,
    readonly bridge: Bridge,
    readonly runtime: PlPythonRuntime,
    /** true when this start ran initdb */
    readonly initialized: boolean,
  ) {}

  static async open(opts: InstanceOptions): Promise<Instance> {
    const fresh = !fs.existsSync(path.join(opts.pgdata, 'PG_VERSION'))
    fs.mkdirSync(opts.pgdata, { recursive: true, mode: 0o700 })
    const fsync = opts.fsync !== false
    const t0 = performance.now()
    // after a crash: one syncfs now instead of PostgreSQL's fsync of every file (durable.ts)
    const startup = fsync && !fresh ? syncAfterCrash(opts.pgdata) : undefined
    let db: PGlite
    try {
      db = new EnginePGlite({
        dataDir: opts.pgdata,
        database: opts.database,
        startParams: [...START_PARAMS, ...durabilityParams(fsync)],
        initDbStartParams: INITDB_ARGS,
        pgliteWasmModule: await pgliteWasmModule(),
        extensions: {
          ...opts.extensions,
          pygliteSizes: nodefsSizes(),
          ...(fsync ? { pygliteFsync: nodefsFsync(startup) } : {}),
        },
      })
      await db.waitReady
    } finally {
      if (startup) startup.open = false
    }
    if (startup)
      logger('engine').debug(
        {
          pgdata: opts.pgdata,
          syncfsMs: startup.syncfsMs,
          skipped: startup.skipped,
          ms: Math.round(performance.now() - t0),
        },
        'crash recovery: one syncfs of the data directory instead of an fsync per file',
      )
    if (fresh && fsync) syncTree(opts.pgdata) // PGlite copied initdb's result in without flushing
    const heap = new Heap(db)
    Bridge.installFiles(heap, await buildSideModule())
    await installContrib(heap.M) // links only: each extension's files are read when PostgreSQL first opens them
    const bridge = new Bridge(db, heap, { maxDepth: opts.maxDepth })
    await installEncodingSupport(heap, bridge.elog) // before any client_encoding or convert() can need it
    await installTestFaults(heap) // only with PYGLITE_TEST_FAULTS=1 (test/containment)
    await guardMissingSymbols(heap, bridge.elog) // after the libraries above: what is still missing → 0A000
    const runtime = new PlPythonRuntime(
      heap,
      bridge.elog,
      new Spi(heap),
      new ErrorContextStack(heap),
      opts.host,
    )
    bridge.attach(runtime)
    await installForeignData(heap, bridge, runtime) // CREATE EXTENSION multicorn (Python foreign tables)
    await selfTest(db, heap, bridge.elog)
    const inst = new Instance(db, heap, bridge, runtime, fresh)
    if (fresh) await db.exec('CREATE EXTENSION IF NOT EXISTS plpython3u')
    else await addPlpythonu(db)
    trimHeap(opts.host)
    return inst
  }

  /** Make this instance's memory the target of the native call path and of cancel requests. */
  activate(): void {
    // the native call path and cancel target one wasm memory at a time: re-point them when switching
    if (activeInstance !== this) {
      activeInstance = this
      this.runtime.forgetMemory()
    }
    this.runtime.syncMemory()
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
