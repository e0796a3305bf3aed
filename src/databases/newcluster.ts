// How CREATE DATABASE's new cluster is finished in a helper thread (helper-worker.ts): a copy of the cached
// prototype (its spare, spare.ts, when there is one) whose database is renamed, or a copy of the template
// cluster in which the user's own statement runs (manager.ts chooses, and copies the template).
import { runHelper } from './helper.js'
import type { HelperJob } from './helper-worker.js'
import { copyTree, ensurePrototype, PROTOTYPE_DB } from './pristine.js'
import { replenishSpare, takeSpare } from './spare.js'
import { type CreateDatabase, quoteIdent } from './statements.js'

/** The statement's options allow the prototype: none beyond OWNER, TEMPLATE template1 and STRATEGY. */
export function prototypeOptions(cmd: CreateDatabase): boolean {
  for (const [k, v] of cmd.options)
    if (!(k === 'owner' || k === 'strategy' || (k === 'template' && (v === null || v === 'template1'))))
      return false
  return true
}

/**
 * The prototype's copy, its database renamed and given its owner (what CREATE DATABASE makes from an
 * untouched template1, but the database OID); PostgreSQL's own ALTER DATABASE does both. `roles`: the
 * authority's roles and memberships (roles.ts script). The copy (or the spare's rename), the roles' query,
 * the wasm compile and the helper thread's start run at the same time.
 */
export async function fromPrototype(
  tmp: string,
  name: string,
  owner: string,
  roles: Promise<string[]>,
  wasmModule: Promise<WebAssembly.Module>,
) {
  const copied = (async () => {
    const prototype = await ensurePrototype()
    const spare = await takeSpare(prototype, tmp)
    if (!spare) await copyTree(prototype, tmp)
    replenishSpare(prototype, copyTree)
    return spare
  })()
  let tCopy = 0
  const job = (async (): Promise<HelperJob> => {
    // all settled before a failure is thrown: the caller removes tmp, which the copy must be done with
    const failed = (await Promise.allSettled([copied, roles, wasmModule])).find(
      (x) => x.status === 'rejected',
    )
    if (failed) throw failed.reason
    tCopy = performance.now()
    const rename =
      name === PROTOTYPE_DB ? [] : [`ALTER DATABASE ${PROTOTYPE_DB} RENAME TO ${quoteIdent(name)}`]
    return {
      pgdata: tmp,
      database: 'template1',
      wasmModule: await wasmModule,
      statements: [
        ...(await roles),
        ...rename,
        `ALTER DATABASE ${quoteIdent(name)} OWNER TO ${quoteIdent(owner)}`,
      ],
    }
  })()
  // the helper thread starts now and gets the job when the copy, the roles and the module are there
  const r = await runHelper(job)
  return { ...r, tCopy, prototype: true, spare: await copied }
}

/**
 * In `tmp`, a copy of the template cluster: the user's own statement, so PostgreSQL checks its options
 * (encoding, locale, template), owned by the creating role unless it says OWNER; FILE_COPY when it names
 * no strategy (2-3× faster than WAL_LOG here when measured with 128MB shared_buffers).
 */
export function runCreateStatement(
  tmp: string,
  cmd: CreateDatabase,
  owner: string,
  roles: string[],
  wasmModule: WebAssembly.Module,
) {
  let sql = cmd.text
  if (!cmd.options.has('owner')) sql += ` OWNER = ${quoteIdent(owner)}`
  if (!cmd.options.has('strategy')) sql += ' STRATEGY = FILE_COPY'
  // plpython3u is made in the copy's template1 first, so the new database has it as a copy of template1's:
  // one PGlite start instead of a second one in the new database. The copy's template1 is never served
  // (connections to template1 reach the template cluster's). A copy of template0 stays pristine as in
  // PostgreSQL (pg_regress --load-extension and restores of `pg_dump -C` create the extension themselves).
  const fromTemplate0 = cmd.options.get('template') === 'template0'
  return runHelper({
    pgdata: tmp,
    database: 'template1',
    plpython: !fromTemplate0,
    wasmModule,
    statements: [
      ...roles,
      ...(fromTemplate0 ? [] : ['CREATE EXTENSION IF NOT EXISTS plpython3u']),
      sql,
      'DROP DATABASE postgres',
    ],
  })
}
