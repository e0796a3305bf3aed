// currval and lastval per session (sequence.c keeps them per backend: seqhashtab, last_used_seq): under
// concurrent inserts from 8 clients each sees the value its own nextval returned; a session that has not
// used a sequence gets PostgreSQL's 55000 although others have.
import type pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
  const c = await connect()
  await c.query('CREATE TABLE items(id serial PRIMARY KEY, who text); CREATE SEQUENCE other_seq')
  await c.end()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = () => connectPg(srv)

describe('currval and lastval', () => {
  it('are each session’s own under concurrent inserts (node-postgres and postgres.js, 8 clients)', async () => {
    const N = 30
    const pgs = await Promise.all([0, 1, 2, 3].map(() => connect()))
    const jss = [0, 1, 2, 3].map(() => postgres(srv.url(), { max: 1, onnotice: () => {} }))
    const wrong: string[] = []
    try {
      const viaPg = async (c: pg.Client, k: number) => {
        for (let i = 0; i < N; i++) {
          const id = (await c.query('INSERT INTO items(who) VALUES ($1) RETURNING id', [`pg${k}`])).rows[0].id
          await new Promise((r) => setImmediate(r)) // others insert meanwhile
          const r = (await c.query("SELECT lastval() AS l, currval('items_id_seq') AS c")).rows[0]
          if (Number(r.l) !== id || Number(r.c) !== id) wrong.push(`pg${k}: ${id} vs ${r.l}/${r.c}`)
        }
      }
      const viaJs = async (sql: postgres.Sql, k: number) => {
        for (let i = 0; i < N; i++) {
          const [{ id }] =
            (await sql`INSERT INTO items(who) VALUES (${`js${k}`}) RETURNING id`) as unknown as [
              { id: number },
            ]
          await new Promise((r) => setImmediate(r))
          const [r] = (await sql`SELECT lastval() AS l, currval('items_id_seq') AS c`) as unknown as [
            { l: string; c: string },
          ]
          if (Number(r.l) !== id || Number(r.c) !== id) wrong.push(`js${k}: ${id} vs ${r.l}/${r.c}`)
        }
      }
      await Promise.all([...pgs.map(viaPg), ...jss.map(viaJs)])
      expect(wrong).toEqual([])
      expect((await pgs[0]!.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(8 * N)
    } finally {
      for (const c of pgs) await c.end()
      for (const s of jss) await s.end()
    }
  })

  it('are not yet defined in a session that has not used the sequence (55000), DISCARD SEQUENCES forgets', async () => {
    const a = await connect()
    const b = await connect()
    try {
      await a.query("SELECT nextval('other_seq')")
      expect((await a.query("SELECT currval('other_seq')::int AS c")).rows[0].c).toBe(1)
      const e1 = await b.query("SELECT currval('other_seq')").catch((e) => e)
      expect([e1.code, e1.message]).toEqual([
        '55000',
        'currval of sequence "other_seq" is not yet defined in this session',
      ])
      const e2 = await b.query('SELECT lastval()').catch((e) => e)
      expect([e2.code, e2.message]).toEqual(['55000', 'lastval is not yet defined in this session'])
      await b.query("SELECT nextval('other_seq')")
      expect((await b.query('SELECT lastval()::int AS l')).rows[0].l).toBe(2)
      expect((await a.query('SELECT lastval()::int AS l')).rows[0].l).toBe(1)
      await a.query('DISCARD SEQUENCES')
      const e3 = await a.query('SELECT lastval()').catch((e) => e)
      expect(e3.code).toBe('55000')
      expect((await b.query("SELECT currval('other_seq')::int AS c")).rows[0].c).toBe(2)
    } finally {
      await a.end()
      await b.end()
    }
  })
})
