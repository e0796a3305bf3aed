// pg_dump round trips between pyglite and a real PostgreSQL 15 + plpython3u started from Debian's packages
// for this file (scripts/bench/refpg.mjs): tables, data, sequences, a view, a plpython3u function, a
// procedure and a plpython3u trigger go both ways and the Python code works on the other side. Roles go
// with pg_dumpall --globals-only. pyglite is PostgreSQL 18.6, so it is dumped with pg_dump 18.6
// (scripts/get-pg18-client.sh; Debian's pg_dump 15 refuses a newer server); its output is restored into
// PostgreSQL 15 without the one line 15 does not know (`SET transaction_timeout = 0;`, docs/hostile.md).
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { dumpServers } from '../helpers/reference.js'
import { startServer } from '../helpers/server.js'

const PG15 = '/usr/lib/postgresql/15/bin'

const servers = dumpServers()

/** psql -c with ON_ERROR_STOP; returns unaligned rows. */
function sql(url: string, text: string): string {
  return execFileSync(`${PG15}/psql`, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text], {
    encoding: 'utf8',
  }).trim()
}

/** Feed a script to psql; returns status and stderr. */
function restore(url: string, script: string, stopOnError = true) {
  const args = ['-X', '-q', '-d', url]
  if (stopOnError) args.push('-v', 'ON_ERROR_STOP=1')
  const r = spawnSync(`${PG15}/psql`, args, { input: script, encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}

/** PostgreSQL 15 does not know this setting (added in 17); it only bounds the restore session itself. */
const forPg15 = (dump: string) => dump.replace(/^SET transaction_timeout = 0;\n/m, '')

const SCHEMA = (s: string) => `
  CREATE ROLE ${s}_reader LOGIN;
  CREATE SCHEMA ${s};
  GRANT USAGE ON SCHEMA ${s} TO ${s}_reader;
  CREATE TABLE ${s}.items(id serial PRIMARY KEY, name text NOT NULL UNIQUE,
    price numeric(8,2) CHECK (price >= 0), tags text[], made date DEFAULT '2026-01-02');
  CREATE SEQUENCE ${s}.order_no START 1000 INCREMENT 5;
  CREATE TABLE ${s}.orders(id int PRIMARY KEY DEFAULT nextval('${s}.order_no'),
    item int REFERENCES ${s}.items(id), qty int, note text);
  CREATE INDEX ON ${s}.orders(item);
  CREATE TABLE ${s}.audit(n serial, op text, item_name text);
  GRANT SELECT ON ${s}.items TO ${s}_reader;
  INSERT INTO ${s}.items(name, price, tags) VALUES ('tea', 3.5, '{hot,drink}'), ('cake', 4.25, NULL),
    ('ünïcødé', 1, '{"a b","c,d"}');
  INSERT INTO ${s}.orders(item, qty, note) VALUES (1, 2, E'tab\\there'), (2, 1, NULL);
  CREATE FUNCTION ${s}.py_total(price numeric, qty int) RETURNS numeric LANGUAGE plpython3u IMMUTABLE AS $py$
from decimal import Decimal
return Decimal(price) * qty
$py$;
  COMMENT ON FUNCTION ${s}.py_total(numeric, int) IS 'price times quantity, in Python';
  CREATE FUNCTION ${s}.py_audit() RETURNS trigger LANGUAGE plpython3u AS $py$
plan = SD.get('plan')
if plan is None:
    plan = SD['plan'] = plpy.prepare("INSERT INTO ${s}.audit(op, item_name) VALUES ($1, $2)", ["text", "text"])
plan.execute([TD["event"], TD["new"]["name"]])
TD["new"]["name"] = TD["new"]["name"].strip()
return "MODIFY"
$py$;
  CREATE TRIGGER items_audit BEFORE INSERT OR UPDATE ON ${s}.items FOR EACH ROW EXECUTE FUNCTION ${s}.py_audit();
  CREATE PROCEDURE ${s}.restock(n int) LANGUAGE plpython3u AS $py$
plpy.execute("UPDATE ${s}.orders SET qty = qty + %d" % n)
plpy.commit()
$py$;
  CREATE VIEW ${s}.order_totals AS
    SELECT o.id, i.name, ${s}.py_total(i.price, o.qty) AS total FROM ${s}.orders o JOIN ${s}.items i ON i.id = o.item;
  -- after the trigger exists: one audited row in the dump
  INSERT INTO ${s}.items(name, price) VALUES ('  scone', 2);
`

/** What the restored copy must show, and that its Python works (run against the restored database). */
function checkRestored(url: string, s: string): void {
  expect(sql(url, `SELECT id, name, total FROM ${s}.order_totals ORDER BY id`)).toBe(
    '1000|tea|7.00\n1005|cake|4.25',
  )
  expect(sql(url, `SELECT name, price, tags, made FROM ${s}.items ORDER BY id`)).toBe(
    'tea|3.50|{hot,drink}|2026-01-02\ncake|4.25||2026-01-02\nünïcødé|1.00|{"a b","c,d"}|2026-01-02\nscone|2.00||2026-01-02',
  )
  expect(sql(url, `SELECT note FROM ${s}.orders WHERE id = 1000`)).toBe('tab\there')
  expect(sql(url, `SELECT op, item_name FROM ${s}.audit`)).toBe('INSERT|  scone')
  // sequences continue where they were
  expect(sql(url, `SELECT nextval('${s}.order_no'), nextval('${s}.items_id_seq')`)).toBe('1010|5')
  // the Python trigger runs (MODIFY, SPI with a plan in SD), the function and the procedure too
  sql(url, `INSERT INTO ${s}.items(name, price) VALUES ('  bun', 1.5)`)
  expect(sql(url, `SELECT name FROM ${s}.items WHERE price = 1.5`)).toBe('bun')
  expect(sql(url, `SELECT op || ':' || item_name FROM ${s}.audit ORDER BY n DESC LIMIT 1`)).toBe(
    'INSERT:  bun',
  )
  expect(sql(url, `SELECT ${s}.py_total(2.5, 4)`)).toBe('10.0')
  sql(url, `CALL ${s}.restock(3)`)
  expect(sql(url, `SELECT string_agg(qty::text, ',' ORDER BY id) FROM ${s}.orders`)).toBe('5,4')
  expect(sql(url, `SELECT obj_description('${s}.py_total(numeric,int)'::regprocedure)`)).toBe(
    'price times quantity, in Python',
  )
  // privileges came along (the role itself came with pg_dumpall --globals-only)
  expect(
    sql(
      url,
      `SELECT has_table_privilege('${s}_reader', '${s}.items', 'SELECT'),
    has_table_privilege('${s}_reader', '${s}.orders', 'SELECT')`,
    ),
  ).toBe('t|f')
  expect(
    sql(
      url,
      `SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = '${s}.py_audit'::regproc`,
    ),
  ).toBe('plpython3u')
}

describe('pg_dump round trip', () => {
  it('pyglite → PostgreSQL 15: pg_dumpall --globals-only and pg_dump 18.6, restored with psql', () => {
    sql(servers.glite.url(), SCHEMA('shop'))
    // roles first (pg_dumpall output always tries CREATE ROLE postgres: the one expected error)
    const globals = execFileSync(
      path.join(servers.pg18, 'pg_dumpall'),
      ['--globals-only', '-d', servers.glite.url()],
      {
        encoding: 'utf8',
      },
    )
    expect(globals).toMatch(/^CREATE ROLE shop_reader;$/m)
    const g = restore(servers.ref.url, forPg15(globals), false)
    expect(g.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/ERROR: {2}role "postgres" already exists$/),
    ])
    expect(sql(servers.ref.url, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shop_reader'")).toBe('t')

    const dump = execFileSync(path.join(servers.pg18, 'pg_dump'), ['-d', servers.glite.url()], {
      encoding: 'utf8',
    })
    expect(dump).toMatch(/^-- Dumped by pg_dump version 18\.6/m)
    expect(dump).toMatch(/^-- Dumped from database version 18\.6/m)
    expect(dump).toContain('CREATE EXTENSION IF NOT EXISTS plpython3u WITH SCHEMA pg_catalog;')
    sql(servers.ref.url, 'CREATE DATABASE from_pyglite')
    // as dumped, PostgreSQL 15 stops at the setting it does not know ...
    const raw = restore(servers.refUrl('from_pyglite'), dump)
    expect(raw.status).toBe(3)
    expect(raw.stderr).toMatch(/ERROR: {2}unrecognized configuration parameter "transaction_timeout"/)
    sql(servers.ref.url, 'DROP DATABASE from_pyglite')
    sql(servers.ref.url, 'CREATE DATABASE from_pyglite')
    // ... and without it everything restores with ON_ERROR_STOP
    const r = restore(servers.refUrl('from_pyglite'), forPg15(dump))
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(sql(servers.refUrl('from_pyglite'), 'SHOW server_version')).toMatch(/^15\./)
    checkRestored(servers.refUrl('from_pyglite'), 'shop')
  }, 120_000)

  it('PostgreSQL 15 → pyglite: pg_dumpall --globals-only and pg_dump 15, restored with psql', () => {
    sql(servers.ref.url, 'CREATE DATABASE farm_src')
    sql(servers.refUrl('farm_src'), 'CREATE EXTENSION plpython3u')
    sql(servers.refUrl('farm_src'), SCHEMA('farm'))
    const globals = execFileSync(`${PG15}/pg_dumpall`, ['--globals-only', '-d', servers.ref.url], {
      encoding: 'utf8',
    })
    const g = restore(servers.glite.url(), globals, false)
    // roles already on pyglite: postgres, and shop_reader from the first test
    for (const line of g.stderr.trim().split('\n'))
      expect(line).toMatch(/ERROR: {2}role "(postgres|shop_reader)" already exists$/)
    expect(sql(servers.glite.url(), "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'farm_reader'")).toBe(
      't',
    )

    const dump = execFileSync(`${PG15}/pg_dump`, ['-d', servers.refUrl('farm_src')], { encoding: 'utf8' })
    expect(dump).toMatch(/^-- Dumped by pg_dump version 15\./m)
    const r = restore(servers.glite.url(), dump)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    checkRestored(servers.glite.url(), 'farm')
    // and back out again with pg_dump 18.6: the restored Python function reads the same
    const again = execFileSync(
      path.join(servers.pg18, 'pg_dump'),
      ['-n', 'farm', '-d', servers.glite.url()],
      {
        encoding: 'utf8',
      },
    )
    expect(again).toContain("plan = SD.get('plan')")
  }, 120_000)

  it('custom format: pg_dump 18.6 -Fc of pyglite, pg_restore --list and a restore into pyglite', async () => {
    const file = path.join(servers.glite.dataDir, '..', `pyglite-dump-${process.pid}.dump`)
    execFileSync(path.join(servers.pg18, 'pg_dump'), [
      '-Fc',
      '-n',
      'shop',
      '-f',
      file,
      '-d',
      servers.glite.url(),
    ])
    const list = execFileSync(path.join(servers.pg18, 'pg_restore'), ['--list', file], { encoding: 'utf8' })
    expect(list).toMatch(/FUNCTION shop py_audit\(\) postgres/)
    expect(list).toMatch(/TRIGGER shop items items_audit postgres/)
    const other = await startServer()
    try {
      sql(other.url(), 'CREATE ROLE shop_reader LOGIN')
      execFileSync(path.join(servers.pg18, 'pg_restore'), ['--exit-on-error', '-d', other.url(), file])
      checkRestored(other.url(), 'shop')
    } finally {
      await other.stop()
      execFileSync('rm', ['-f', file])
    }
  }, 120_000)
})
