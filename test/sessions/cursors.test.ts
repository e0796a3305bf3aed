// WITH HOLD cursors per session, as per backend in PostgreSQL: two sessions declare the same name without a
// clash and each fetches its own, pg_cursors and CLOSE ALL see only one's own, and a session's held cursors
// go when it disconnects (node-postgres, and psycopg's named cursor withhold=True).
import { execFileSync } from 'node:child_process'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg } from '../helpers/clients.js'
import { message, RawClient, rows } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = () => connectPg(srv)
const fetch = async (c: pg.Client, sql: string) => (await c.query(sql)).rows.map((r) => Object.values(r)[0])
const cursors = async (c: pg.Client) =>
  fetch(c, "SELECT name || ': ' || statement FROM pg_cursors ORDER BY name")

describe('WITH HOLD cursors', () => {
  it('are each session’s own: same name, own rows, own pg_cursors and CLOSE ALL, gone at disconnect', async () => {
    const a = await connect()
    const b = await connect()
    try {
      await a.query('BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 5) g; COMMIT')
      await b.query(
        'BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT g * 10 FROM generate_series(1, 5) g; COMMIT',
      )
      await b.query('DECLARE d CURSOR WITH HOLD FOR SELECT 42')
      expect(await fetch(a, 'FETCH 2 FROM c')).toEqual([1, 2])
      expect(await fetch(b, 'FETCH 2 FROM c')).toEqual([10, 20])
      expect(await cursors(a)).toEqual([
        'c: BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 5) g; COMMIT',
      ])
      expect(await cursors(b)).toHaveLength(2)
      await b.query('CLOSE ALL')
      expect(await fetch(a, 'FETCH 1 FROM c')).toEqual([3])
      const gone = await b.query('FETCH 1 FROM c').catch((e) => e)
      expect([gone.code, gone.message]).toEqual(['34000', 'cursor "c" does not exist'])
      await a.end()
      const c = await connect()
      expect(await cursors(c)).toEqual([])
      await c.end()
    } finally {
      await a.end().catch(() => {})
      await b.end()
    }
  })

  it('work with psycopg named cursors (withhold=True) beside another session’s', async () => {
    const other = await connect()
    try {
      await other.query('BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT -1; COMMIT')
      const out = execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          `import json, sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    cur = conn.cursor("held", withhold=True)
    cur.execute("SELECT g FROM generate_series(1, 3) g")
    conn.commit()
    print(json.dumps([r[0] for r in cur.fetchall()]))`,
          srv.url(),
        ],
        { encoding: 'utf8' },
      )
      expect(JSON.parse(out)).toEqual([1, 2, 3])
      expect(await fetch(other, 'FETCH ALL FROM held')).toEqual([-1])
    } finally {
      await other.end()
    }
  })

  it('keep the holder’s suspended unnamed portal while others connect and look beside its transaction', async () => {
    // Parse/Bind/Execute with a row limit leaves the unnamed portal suspended (a driver reading a cursor in
    // batches); work beside the idle transaction runs queries of its own, which must not replace it
    const parse = message('P', Buffer.from('\0SELECT g FROM generate_series(1, 5) g\0\0\0', 'latin1'))
    const bind = message('B', Buffer.alloc(8))
    const execute = (n: number) => {
      const b = Buffer.alloc(5)
      b.writeInt32BE(n, 1)
      return message('E', b)
    }
    const { c } = await RawClient.login(srv.port)
    const other = await connect()
    try {
      await c.query('BEGIN')
      c.write(Buffer.concat([parse, bind, execute(2), message('S')]))
      expect(rows(await c.until('Z'))).toEqual([['1'], ['2']])
      const late = await connect() // a session opens beside the transaction
      expect((await other.query('SELECT count(*)::int AS n FROM pg_stat_activity')).rows[0].n).toBe(3)
      c.write(Buffer.concat([execute(2), message('S')]))
      const next = await c.until('Z')
      expect(next.map((m) => m.type).join('')).toBe('DDsZ')
      expect(rows(next)).toEqual([['3'], ['4']])
      await late.end()
      await c.query('COMMIT')
    } finally {
      await other.end()
    }
  })
})
