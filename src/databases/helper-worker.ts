// A short-lived thread that runs a few statements on a cluster no engine has open (a new database's copy
// of the template or of the prototype, or initdb of the pristine cluster) with a plain PGlite: no Python,
// and the engine thread and the main thread keep serving everyone else meanwhile.
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'
import { Bridge } from '../engine/pg/bridge.js'
import { Heap } from '../engine/pg/heap.js'
import { buildSideModule } from '../engine/pg/sidemodule.js'
import { INITDB_ARGS, START_PARAMS } from '../engine/storage/params.js'

export interface HelperJob {
  /** the cluster directory (initdb runs if it is empty) */
  pgdata: string
  /** the database to connect to */
  database: string
  statements: string[]
  /** install plpython3u's files (the engine's side module) first, so CREATE EXTENSION plpython3u works */
  plpython?: boolean
  /** the compiled pglite.wasm (a WebAssembly.Module is cloned between threads, not compiled again) */
  wasmModule?: WebAssembly.Module
}

/** `catalogVersion`: the running PGlite's CATALOG_VERSION_NO (pristine.ts records it) */
export type HelperResult = { ok: true; catalogVersion: number } | { ok: false; error: Record<string, string> }

/** ErrorResponse fields of a PGlite DatabaseError (its properties are named after pg's). */
function fields(e: unknown): Record<string, string> {
  const d = e as Record<string, unknown>
  const out: Record<string, string> = { S: 'ERROR', V: 'ERROR', C: String(d.code ?? 'XX000') }
  out.M = String((e as Error).message ?? e)
  const map: Array<[string, string]> = [
    ['D', 'detail'],
    ['H', 'hint'],
    ['P', 'position'],
    ['W', 'where'],
  ]
  for (const [k, prop] of map) if (typeof d[prop] === 'string') out[k] = d[prop] as string
  return out
}

async function run(job: HelperJob): Promise<HelperResult> {
  const db = await PGlite.create({
    dataDir: job.pgdata,
    database: job.database,
    startParams: START_PARAMS,
    initDbStartParams: INITDB_ARGS,
    pgliteWasmModule: job.wasmModule,
  })
  try {
    if (job.plpython) Bridge.installFiles(new Heap(db), await buildSideModule())
    for (const sql of job.statements) await db.exec(sql)
    const r = await db.query<{ v: number }>(
      'SELECT catalog_version_no AS v FROM pg_catalog.pg_control_system()',
    )
    return { ok: true, catalogVersion: Number(r.rows[0]?.v) }
  } catch (e) {
    if (typeof (e as { code?: unknown }).code !== 'string') throw e
    return { ok: false, error: fields(e) }
  } finally {
    await db.close()
  }
}

function start(job: HelperJob): void {
  run(job).then(
    (r) => parentPort!.postMessage(r),
    (e: Error) =>
      parentPort!.postMessage({ ok: false, error: { S: 'ERROR', V: 'ERROR', C: 'XX000', M: e.message } }),
  )
}

// the job comes with the thread, or later as its first message (helper.ts: a thread started while the job's
// inputs are still being made)
if (workerData) start(workerData as HelperJob)
else parentPort!.once('message', start)
