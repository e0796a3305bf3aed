// Real clients for the plpy tests: node-postgres connections that record notices, and psql runs.
import { spawn } from 'node:child_process'
import pg from 'pg'
import type { NoticeMessage } from 'pg-protocol/dist/messages.js'
import type { TestServer } from '../helpers/server.js'

export interface Client extends pg.Client {
  notices: NoticeMessage[]
}

/** A connected node-postgres client that keeps every notice it receives. */
export async function connect(srv: TestServer): Promise<Client> {
  const c = new pg.Client({ connectionString: srv.url() }) as Client
  c.notices = []
  c.on('notice', (n) => c.notices.push(n))
  await c.connect()
  // the engine's backend is shared (no per-session GUCs yet): start each client from the defaults
  await c.query('RESET client_min_messages')
  return c
}

/**
 * Create a plpython3u function of no arguments with `body` (and `opts`, e.g. IMMUTABLE) and return the
 * result of calling it once.
 */
export async function pyValue(c: pg.Client, body: string, returns = 'text', opts = ''): Promise<unknown> {
  const name = `f_${Math.random().toString(36).slice(2)}`
  await c.query(
    `CREATE FUNCTION ${name}() RETURNS ${returns} LANGUAGE plpython3u ${opts} AS $py$\n${body}\n$py$`,
  )
  return (await c.query(`SELECT ${name}() AS v`)).rows[0].v
}

/** The error a query fails with (fails the test if it succeeds). */
export async function failure(c: pg.Client, sql: string, values?: unknown[]): Promise<pg.DatabaseError> {
  try {
    await c.query(sql, values)
  } catch (e) {
    return e as pg.DatabaseError
  }
  throw new Error(`expected an error from: ${sql}`)
}

export interface PsqlRun {
  code: number | null
  stdout: string
  stderr: string
}

/** psql -X -q -v ON_ERROR_STOP=0 with `sql` on stdin, as pg_regress runs it (no .psqlrc, C messages). */
export function psql(srv: TestServer, sql: string, args: string[] = []): Promise<PsqlRun> {
  return new Promise((resolve, reject) => {
    const p = spawn('psql', ['-X', '-q', '-d', srv.url(), ...args], {
      env: { ...process.env, LC_MESSAGES: 'C', PGAPPNAME: 'plpy-test' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, stdout, stderr }))
    p.stdin.end(sql)
  })
}
