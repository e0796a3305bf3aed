// Runs the same SQL on pyglite and on a private PostgreSQL 15 + plpython3u (scripts/bench/refpg.mjs) for
// the plcolumns tests: the reference imports a copy of src/python/plcolumns, as a user who takes their
// functions to PostgreSQL would install it (docs/columns.md), so the pure-Python path runs there.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startReference } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

export interface Reference {
  url: string
  stop(): void
}

/** A statement's outcome as the tests compare it. */
export type Outcome =
  | { rows: Record<string, unknown>[] }
  | { error: { code?: string; message: string; detail?: string; hint?: string; where?: string } }

export interface Both {
  glite: TestServer
  ref: Reference
  g: pg.Client
  r: pg.Client
  /** the directory holding the reference's copy of plcolumns (put on sys.path in each of its backends) */
  moduleDir: string
  /** run `sql` on both servers (one statement or several separated by ;); the last statement's outcome */
  run(sql: string): Promise<[Outcome, Outcome]>
  stop(): Promise<void>
}

async function outcome(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    const res = await c.query(sql)
    const last = Array.isArray(res) ? res[res.length - 1] : res
    return { rows: last.rows }
  } catch (e) {
    const err = e as pg.DatabaseError
    return {
      error: { code: err.code, message: err.message, detail: err.detail, hint: err.hint, where: err.where },
    }
  }
}

export async function startBoth(): Promise<Both> {
  const [glite, ref] = await Promise.all([startServer(), startReference()])
  // the portable module, copied where the reference server's postgres user can read it
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plcolumns-'))
  fs.cpSync(path.join(ROOT, 'src/python/plcolumns'), path.join(dir, 'plcolumns'), { recursive: true })
  fs.chmodSync(dir, 0o755)
  for (const f of fs.readdirSync(path.join(dir, 'plcolumns')))
    fs.chmodSync(path.join(dir, 'plcolumns', f), 0o644)
  fs.chmodSync(path.join(dir, 'plcolumns'), 0o755)
  const g = new pg.Client({ connectionString: glite.url() })
  const r = new pg.Client({ connectionString: ref.url })
  await Promise.all([g.connect(), r.connect()])
  await g.query('CREATE EXTENSION IF NOT EXISTS plpython3u')
  // PostgreSQL's plpython3u: the directory goes on sys.path for this backend (a user would install it)
  await r.query(
    `DO $$ import sys; sys.path.insert(0, ${JSON.stringify(dir).replace(/"/g, "'")}) $$ LANGUAGE plpython3u`,
  )
  return {
    glite,
    ref,
    g,
    r,
    moduleDir: dir,
    run: (sql) => Promise.all([outcome(g, sql), outcome(r, sql)]),
    async stop() {
      await Promise.allSettled([g.end(), r.end()])
      ref.stop()
      await glite.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The rows of an outcome that must have succeeded. */
export function rowsOf(o: Outcome): Record<string, unknown>[] {
  if ('error' in o) throw new Error(`unexpected error: ${JSON.stringify(o.error)}`)
  return o.rows
}
