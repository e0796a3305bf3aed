// CREATE DATABASE made from the pristine cluster's copy (src/databases/manager.ts, pristine.ts): template1's
// user objects are carried into the new database as PostgreSQL's TEMPLATE does, template0 stays pristine,
// PostgreSQL still checks the statement's options, and nothing half-made is left behind.
import fs from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer({ template: false }) // an empty data directory: first start from the cache
})
afterAll(async () => {
  await srv?.stop()
})

async function withClient<T>(db: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(srv.url(db))
  await c.connect()
  try {
    return await f(c)
  } finally {
    await c.end()
  }
}

const one = (db: string, sql: string) => withClient(db, async (c) => (await c.query(sql)).rows)

describe('CREATE DATABASE from the pristine copy', () => {
  it("carries template1's user objects, with plpython3u ready; TEMPLATE template0 does not", async () => {
    await withClient('template1', async (t) => {
      await t.query(`CREATE SCHEMA app;
        CREATE TABLE app.items (id serial PRIMARY KEY, name text NOT NULL);
        INSERT INTO app.items (name) VALUES ('first'), ('second');
        COMMENT ON TABLE app.items IS 'from template1';
        CREATE VIEW app.names AS SELECT upper(name) AS n FROM app.items;
        CREATE EXTENSION plpython3u;
        CREATE FUNCTION app.greet(who text) RETURNS text LANGUAGE plpython3u AS $$ return 'hello ' + who $$`)
    })
    await one('postgres', 'CREATE DATABASE with_objects')
    expect(await one('with_objects', 'SELECT id, name FROM app.items ORDER BY id')).toEqual([
      { id: 1, name: 'first' },
      { id: 2, name: 'second' },
    ])
    expect(await one('with_objects', "SELECT obj_description('app.items'::regclass) AS d")).toEqual([
      { d: 'from template1' },
    ])
    expect(await one('with_objects', 'SELECT n FROM app.names ORDER BY n')).toEqual([
      { n: 'FIRST' },
      { n: 'SECOND' },
    ])
    expect(await one('with_objects', "SELECT app.greet('db') AS g")).toEqual([{ g: 'hello db' }])
    // the sequence goes on from template1's state, as a file-level copy does
    expect(await one('with_objects', "INSERT INTO app.items (name) VALUES ('third') RETURNING id")).toEqual([
      { id: 3 },
    ])
    expect(
      await one(
        'with_objects',
        `SELECT current_database() AS db, pg_get_userbyid(datdba) AS owner, datistemplate
           FROM pg_database WHERE datname = current_database()`,
      ),
    ).toEqual([{ db: 'with_objects', owner: 'postgres', datistemplate: false }])

    await one('postgres', 'CREATE DATABASE from_zero TEMPLATE template0')
    expect(await one('from_zero', "SELECT to_regnamespace('app') IS NULL AS gone")).toEqual([{ gone: true }])
    expect(
      await one('from_zero', "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'plpython3u'"),
    ).toEqual([{ n: 0 }])

    // without plpython3u in template1, the new database still gets it (as pyglite always did)
    await withClient('template1', (t) => t.query('DROP SCHEMA app CASCADE; DROP EXTENSION plpython3u'))
    await one('postgres', 'CREATE DATABASE plain_one')
    expect(await one('plain_one', "SELECT to_regnamespace('app') IS NULL AS gone")).toEqual([{ gone: true }])
    const f = 'CREATE FUNCTION two() RETURNS int LANGUAGE plpython3u AS $$ return 2 $$'
    await one('plain_one', f)
    expect(await one('plain_one', 'SELECT two() AS v')).toEqual([{ v: 2 }])
  }, 300_000)

  it("leaves PostgreSQL's checks of the options to PostgreSQL, and no half-made cluster after an error", async () => {
    const err = await withClient('postgres', (c) =>
      c.query("CREATE DATABASE bad_enc ENCODING 'LATIN1' TEMPLATE template1").then(
        () => null,
        (e: pg.DatabaseError) => e,
      ),
    )
    // checked by PostgreSQL in the helper (createdb: the locale before the template's encoding)
    expect([err?.code, err?.message, err?.detail]).toEqual([
      '22023',
      'encoding "LATIN1" does not match locale "C.UTF-8"',
      'The chosen LC_CTYPE setting requires encoding "UTF8".',
    ])
    await one('postgres', "CREATE DATABASE latin ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0")
    expect(
      await one(
        'latin',
        "SELECT pg_encoding_to_char(encoding) AS e FROM pg_database WHERE datname = 'latin'",
      ),
    ).toEqual([{ e: 'LATIN1' }])
    const left = fs
      .readdirSync(srv.dataDir)
      .filter((f) => f.startsWith('.creating-') || f.startsWith('.copying-'))
    expect(left).toEqual([])
    expect(
      await one('postgres', "SELECT count(*)::int AS n FROM pg_database WHERE datname = 'bad_enc'"),
    ).toEqual([{ n: 0 }])
  }, 300_000)
})
