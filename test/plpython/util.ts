// Small helpers for the PL/Python tests: a node-postgres client that records notices, and error capture.
import pg from 'pg'
import type { TestServer } from '../helpers/server.js'

export interface Notice {
  severity: string
  message: string
  detail?: string
  where?: string
}

export interface Client extends pg.Client {
  notices: Notice[]
}

/** A connected client; NOTICE/INFO/WARNING messages are collected in `notices`. */
export async function connect(srv: TestServer): Promise<Client> {
  const c = new pg.Client({ connectionString: srv.url() }) as Client
  c.notices = []
  c.on('notice', (n) =>
    c.notices.push({
      severity: n.severity ?? '',
      message: n.message ?? '',
      detail: n.detail,
      where: n.where,
    }),
  )
  await c.connect()
  return c
}

/** The error a query fails with (the test fails if it succeeds). */
export async function failure(c: pg.Client, sql: string, params?: unknown[]): Promise<pg.DatabaseError> {
  try {
    await c.query(sql, params)
  } catch (e) {
    return e as pg.DatabaseError
  }
  throw new Error(`expected an error from: ${sql}`)
}

/** The single value of a one-row, one-column query. */
export async function value(c: pg.Client, sql: string, params?: unknown[]): Promise<unknown> {
  const r = await c.query({ text: sql, values: params, rowMode: 'array' })
  return r.rows[0]?.[0]
}

/** Create a plpython3u function: name(args) RETURNS ret AS body. */
export async function fn(c: pg.Client, signature: string, body: string): Promise<void> {
  await c.query(`CREATE OR REPLACE FUNCTION ${signature} LANGUAGE plpython3u AS $py$\n${body}\n$py$`)
}
