// pg_dump round trips of a database that uses hstore, pgcrypto, pg_trgm and PL/Python transforms (jsonb,
// hstore): pyglite → pyglite (pg_dump 18.6, plain and custom format), pyglite → PostgreSQL 15 + plpython3u
// (Debian's postgresql-plpython3-15 has the transform extensions), and PostgreSQL 15 → pyglite. The data,
// the indexes and the Python functions must work on the other side.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { dumpServers } from '../helpers/reference.js'

const PG15 = '/usr/lib/postgresql/15/bin'

const servers = dumpServers()

function sql(url: string, text: string): string {
  return execFileSync(`${PG15}/psql`, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text], {
    encoding: 'utf8',
  }).trim()
}

function restore(url: string, script: string) {
  const r = spawnSync(`${PG15}/psql`, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], {
    input: script,
    encoding: 'utf8',
  })
  return { status: r.status, stderr: r.stderr }
}

const SCHEMA = `
  CREATE EXTENSION IF NOT EXISTS plpython3u;
  CREATE EXTENSION hstore;
  CREATE EXTENSION pgcrypto;
  CREATE EXTENSION pg_trgm;
  CREATE EXTENSION jsonb_plpython3u;
  CREATE EXTENSION hstore_plpython3u;
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, attrs hstore, secret bytea, doc jsonb);
  CREATE INDEX items_name_trgm ON items USING gin (name gin_trgm_ops);
  CREATE INDEX items_attrs ON items USING gist (attrs);
  INSERT INTO items SELECT i, 'item number ' || i, hstore('color', (ARRAY['red','green','blue'])[i % 3 + 1]) || hstore('n', i::text),
    pgp_sym_encrypt('secret ' || i, 'key'), jsonb_build_object('id', i, 'tags', jsonb_build_array('a', i))
    FROM generate_series(1, 300) i;
  CREATE FUNCTION doc_keys(d jsonb) RETURNS jsonb LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb
    AS $$ return sorted(d.keys()) + [d['tags'][1] * 2] $$;
  CREATE FUNCTION with_attr(h hstore, k text, v text) RETURNS hstore LANGUAGE plpython3u TRANSFORM FOR TYPE hstore
    AS $$ h[k] = v; return h $$;
`

function checkRestored(url: string): void {
  expect(sql(url, `SELECT count(*) FROM items WHERE attrs @> 'color=>red'`)).toBe('100')
  expect(sql(url, `SELECT pgp_sym_decrypt(secret, 'key') FROM items WHERE id = 42`)).toBe('secret 42')
  expect(
    sql(
      url,
      `SET enable_seqscan = off; SELECT name FROM items WHERE name % 'item numbr 299' ORDER BY similarity(name, 'item numbr 299') DESC LIMIT 1`,
    ),
  ).toBe('item number 299')
  expect(sql(url, `SELECT doc_keys(doc) FROM items WHERE id = 7`)).toBe('["id", "tags", 14]')
  expect(sql(url, `SELECT with_attr(attrs, 'k', 'v') -> 'k' FROM items WHERE id = 1`)).toBe('v')
  expect(sql(url, `SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension`)).toBe(
    'hstore,hstore_plpython3u,jsonb_plpython3u,pg_trgm,pgcrypto,plpgsql,plpython3u',
  )
}

describe('pg_dump of a database with extensions and transforms', () => {
  it('pyglite → pyglite, plain and custom format', () => {
    sql(servers.glite.url(), SCHEMA)
    checkRestored(servers.glite.url())
    const dump = execFileSync(path.join(servers.pg18, 'pg_dump'), ['-d', servers.glite.url()], {
      encoding: 'utf8',
    })
    expect(dump).toContain('CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;')
    expect(dump).toContain('CREATE EXTENSION IF NOT EXISTS jsonb_plpython3u WITH SCHEMA public;')
    expect(dump).toMatch(/LANGUAGE plpython3u TRANSFORM FOR TYPE jsonb/)
    sql(servers.glite.url(), 'CREATE DATABASE ext_copy')
    const r = restore(servers.glite.url('ext_copy'), dump)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    checkRestored(servers.glite.url('ext_copy'))
    const file = path.join(servers.glite.dataDir, '..', `pyglite-ext-${process.pid}.dump`)
    execFileSync(path.join(servers.pg18, 'pg_dump'), ['-Fc', '-f', file, '-d', servers.glite.url()])
    sql(servers.glite.url(), 'CREATE DATABASE ext_copy2')
    execFileSync(path.join(servers.pg18, 'pg_restore'), [
      '--exit-on-error',
      '-d',
      servers.glite.url('ext_copy2'),
      file,
    ])
    checkRestored(servers.glite.url('ext_copy2'))
  }, 300_000)

  it('pyglite → PostgreSQL 15 + plpython3u', () => {
    const dump = execFileSync(path.join(servers.pg18, 'pg_dump'), ['-d', servers.glite.url()], {
      encoding: 'utf8',
    })
    sql(servers.ref.url, 'CREATE DATABASE ext_from_pyglite')
    const r = restore(
      servers.refUrl('ext_from_pyglite'),
      dump.replace(/^SET transaction_timeout = 0;\n/m, ''),
    )
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(sql(servers.refUrl('ext_from_pyglite'), 'SHOW server_version')).toMatch(/^15\./)
    checkRestored(servers.refUrl('ext_from_pyglite'))
  }, 120_000)

  it('PostgreSQL 15 → pyglite', () => {
    sql(servers.ref.url, 'CREATE DATABASE ext_src')
    sql(servers.refUrl('ext_src'), SCHEMA)
    const dump = execFileSync(`${PG15}/pg_dump`, ['-d', servers.refUrl('ext_src')], { encoding: 'utf8' })
    sql(servers.glite.url(), 'CREATE DATABASE ext_from15')
    const r = restore(servers.glite.url('ext_from15'), dump)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    checkRestored(servers.glite.url('ext_from15'))
  }, 300_000)
})
