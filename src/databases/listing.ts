// The initial database's pg_database lists every database (psql -l, pg_dumpall): an empty placeholder
// database per created database, kept in step in the background.
import type { Engine } from '../engine/client.js'
import { AUTHORITY_DB, type DatabaseEntry } from '../engine/storage/clusters.js'
import { logger } from '../util/log.js'
import { quoteIdent } from './statements.js'

const log = logger('databases')

export class AuthorityListing {
  private queue: Promise<void> = Promise.resolve()

  constructor(private readonly engine: Engine) {}

  /**
   * Keep the initial database's pg_database listing every database (psql -l, pg_dumpall's list), with an
   * empty placeholder database (a template0 copy, ~7.5 MB) that nobody can connect to: connections by
   * that name go to the database's own cluster. In the background, after the command answered; while a
   * client holds a transaction on `postgres` the statement cannot run (25001) and is retried.
   */
  private run(sql: string): void {
    this.queue = this.queue.then(async () => {
      const deadline = Date.now() + 120_000
      for (;;) {
        try {
          await this.engine.queryRows(AUTHORITY_DB, sql)
          return
        } catch (e) {
          const code = (e as { code?: string }).code
          if (code !== '25001' || Date.now() > deadline) {
            log.warn({ err: e, sql }, 'could not update the pg_database listing of "postgres"')
            return
          }
          await new Promise((r) => setTimeout(r, 250))
        }
      }
    })
  }

  /**
   * At start: placeholders missing from postgres's pg_database (a crash between CREATE DATABASE and its
   * placeholder) are made. Names listed there but not in the registry are left alone (they may be
   * databases made inside that cluster before pyglite answered CREATE DATABASE itself).
   */
  async reconcile(entries: Iterable<DatabaseEntry>): Promise<void> {
    const have = new Set(
      (await this.engine.query(AUTHORITY_DB, 'SELECT datname FROM pg_catalog.pg_database')).map(
        (r) => r.datname,
      ),
    )
    for (const e of entries) if (!have.has(e.name)) this.add(e.name, e.owner)
  }

  /** Resolves when the pg_database listing in `postgres` has caught up (tests, shutdown). */
  settled(): Promise<void> {
    return this.queue
  }

  /** A placeholder for a created database. */
  add(name: string, owner: string): void {
    this.run(
      `CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)} TEMPLATE template0 STRATEGY FILE_COPY`,
    )
  }

  remove(name: string): void {
    this.run(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`)
  }
}
