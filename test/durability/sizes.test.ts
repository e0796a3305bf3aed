// The engine answers PostgreSQL's lseek(SEEK_END) from sizes it keeps per open file (src/engine/storage/
// sizes.ts) instead of an fstat each time. What PostgreSQL believes a relation's size is must stay what is
// on disk while the file grows (extension by writes, COPY, bulk extension), shrinks (VACUUM's truncation
// of empty tail pages, with the same file open) and is replaced (TRUNCATE), and across a restart.
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client
beforeAll(async () => {
  srv = await startServer()
  c = new pg.Client(srv.url())
  await c.connect()
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

/** pg_relation_size (smgrnblocks: lseek SEEK_END) and the main fork's bytes on disk, summed over segments. */
async function sizes(table: string): Promise<{ pg: number; disk: number }> {
  const r = await c.query(
    'SELECT pg_catalog.pg_relation_size($1::regclass)::int8 AS pg, pg_catalog.pg_relation_filepath($1::regclass) AS file',
    [table],
  )
  const { pg: size, file } = r.rows[0]
  // the database postgres's cluster is <data dir>/postgres (src/engine/storage/clusters.ts)
  const base = path.join(srv.dataDir, 'postgres')
  let disk = 0
  for (let seg = 0; ; seg++) {
    const p = path.join(base, seg === 0 ? file : `${file}.${seg}`)
    if (!fs.existsSync(p)) break
    disk += fs.statSync(p).size
  }
  return { pg: Number(size), disk }
}

describe('relation sizes as PostgreSQL sees them', () => {
  it('follow the files through growth, VACUUM truncation, TRUNCATE and a restart', async () => {
    await c.query('CREATE TABLE grow (id int, pad text)')
    expect(await sizes('grow')).toEqual({ pg: 0, disk: 0 })
    await c.query("INSERT INTO grow SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
    // the checkpoint writes the buffers out: before it, extended pages may exist only as zeroes on disk
    await c.query('CHECKPOINT')
    const grown = await sizes('grow')
    expect(grown.pg).toBeGreaterThan(100 * 8192)
    expect(grown.pg).toBe(grown.disk)
    expect((await c.query('SELECT count(*)::int AS n FROM grow')).rows[0].n).toBe(20000)

    // empty tail pages: VACUUM truncates the same file (ftruncate through the descriptor it has open)
    await c.query('DELETE FROM grow WHERE id > 5000')
    await c.query('VACUUM grow')
    const shrunk = await sizes('grow')
    expect(shrunk.pg).toBeLessThan(grown.pg / 2)
    expect(shrunk.pg).toBe(shrunk.disk)
    expect((await c.query('SELECT count(*)::int AS n, max(id) AS m FROM grow')).rows[0]).toEqual({
      n: 5000,
      m: 5000,
    })

    // grows again after the truncation; a sequential scan sees every new row
    await c.query("INSERT INTO grow SELECT g, repeat('y', 200) FROM generate_series(20001, 30000) g")
    await c.query('CHECKPOINT')
    const regrown = await sizes('grow')
    expect(regrown.pg).toBe(regrown.disk)
    expect((await c.query('SELECT count(*)::int AS n FROM grow')).rows[0].n).toBe(15000)

    // COPY's bulk extension
    await c.query('CREATE TABLE copied (id int, pad text)')
    await c.query("INSERT INTO copied SELECT g, repeat('z', 500) FROM generate_series(1, 5000) g")
    await c.query('TRUNCATE copied')
    expect(await sizes('copied')).toEqual({ pg: 0, disk: 0 })
    await c.query("INSERT INTO copied SELECT g, repeat('w', 500) FROM generate_series(1, 3000) g")
    await c.query('CHECKPOINT')
    const copied = await sizes('copied')
    expect(copied.pg).toBeGreaterThan(0)
    expect(copied.pg).toBe(copied.disk)

    await c.end()
    const dataDir = srv.dataDir
    await srv.stop()
    srv = await startServer({ dataDir })
    c = new pg.Client(srv.url())
    await c.connect()
    expect(await sizes('grow')).toEqual(regrown)
    expect((await c.query('SELECT count(*)::int AS n FROM grow')).rows[0].n).toBe(15000)
    expect((await c.query('SELECT count(*)::int AS n FROM copied')).rows[0].n).toBe(3000)
  })
})
