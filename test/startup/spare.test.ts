// Spare clusters (src/databases/spare.ts): a first start and a CREATE DATABASE take a ready copy of the
// cached pristine cluster / prototype by a rename, and the next spare is made in the background; a spare
// that does not match its cache entry is not used, and half-made spares of dead processes are removed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { textRows } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'

const servers: TestServer[] = []
const cache = fs.mkdtempSync(path.join(process.env.PYGLITE_TEST_RUN_DIR ?? os.tmpdir(), 'pyglite-cache-'))
afterAll(async () => {
  for (const s of servers) await s.stop()
  fs.rmSync(cache, { recursive: true, force: true })
})

const env = { PYGLITE_CACHE_DIR: cache, PYGLITE_SPARE_DELAY_MS: '0' }

async function fresh(): Promise<TestServer> {
  const s = await startServer({ template: false, env, args: ['--log-level', 'debug'] })
  servers.push(s)
  return s
}

const entry = (kind: string) => fs.readdirSync(cache).find((f) => f.startsWith(`${kind}-`))!
const spare = (kind: string) => path.join(cache, `spare-${entry(kind)}`)

/** Wait until the spare of `kind` exists (made in the background). */
async function spareMade(kind: string): Promise<void> {
  const deadline = Date.now() + 120_000
  while (!entry(kind) || !fs.existsSync(spare(kind))) {
    if (Date.now() > deadline) throw new Error(`no spare ${kind} in ${fs.readdirSync(cache).join(', ')}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const control = (dir: string) => fs.readFileSync(path.join(dir, 'global', 'pg_control'))

describe('spare clusters', () => {
  it('a first start takes the spare of the pristine cluster, and another is made', async () => {
    const first = await fresh()
    expect(first.output()).toMatch(/"spare":false,[^\n]*"msg":"copied the pristine cluster"/)
    await spareMade('pristine')
    // a spare is a copy of the entry: its pg_control is the entry's, byte for byte
    expect(control(spare('pristine')).equals(control(path.join(cache, entry('pristine'))))).toBe(true)
    const ino = fs.statSync(spare('pristine')).ino

    const second = await fresh()
    expect(second.output()).toMatch(/"spare":true,[^\n]*"msg":"copied the pristine cluster"/)
    // the spare became the data directory's cluster (the same directory, renamed)
    expect(fs.statSync(path.join(second.dataDir, 'postgres')).ino).toBe(ino)
    expect(await textRows(second, `SELECT extname FROM pg_extension WHERE extname = 'plpython3u'`)).toEqual([
      'plpython3u',
    ])
    await textRows(second, 'CREATE FUNCTION two() RETURNS int LANGUAGE plpython3u AS $$ return 2 $$')
    expect(await textRows(second, 'SELECT two()')).toEqual(['2'])
    await spareMade('pristine')
    expect(fs.statSync(spare('pristine')).ino).not.toBe(ino)
    expect(fs.readdirSync(cache).filter((f) => f.startsWith('spare-building-'))).toEqual([])
  }, 300_000)

  it('CREATE DATABASE takes the spare of the prototype: name, owner and plpython3u as before', async () => {
    const s = await fresh()
    await textRows(s, 'CREATE ROLE spare_owner')
    await textRows(s, 'CREATE DATABASE made_first OWNER spare_owner')
    await spareMade('prototype')
    await textRows(s, 'CREATE DATABASE made_from_spare OWNER spare_owner')
    // the log line may reach the test's pipe after the command's answer reached the client
    const made = /"db":"made_from_spare"[^\n]*"spare":true[^\n]*"msg":"created a database"/
    for (let i = 0; i < 100 && !made.test(s.output()); i++) await new Promise((r) => setTimeout(r, 50))
    expect(s.output()).toMatch(made)
    for (const db of ['made_first', 'made_from_spare']) {
      expect(
        await textRows(
          s,
          `SELECT current_database(), pg_get_userbyid(datdba), (SELECT count(*) FROM pg_extension
             WHERE extname = 'plpython3u') FROM pg_database WHERE datname = current_database()`,
          db,
        ),
      ).toEqual([`${db}|spare_owner|1`])
      // the prototype's own database name is nowhere
      expect(await textRows(s, `SELECT datname FROM pg_database WHERE datname LIKE 'pyglite%'`, db)).toEqual(
        [],
      )
    }
  }, 300_000)

  it('a spare that does not match its entry is removed, not used; abandoned half-made ones go', async () => {
    await spareMade('pristine')
    const bad = spare('pristine')
    const pgControl = path.join(bad, 'global', 'pg_control')
    const bytes = control(bad)
    bytes[16] = (bytes[16]! + 1) & 0xff // another cluster's (a copy of an entry since rebuilt)
    fs.writeFileSync(pgControl, bytes)
    // a spare a killed server was making (its pid is gone)
    const abandoned = path.join(cache, 'spare-building-999999999-0123456789ab')
    fs.mkdirSync(abandoned)
    const s = await fresh()
    expect(s.output()).toMatch(/"msg":"a spare cluster did not match its cache entry: removed"/)
    expect(s.output()).toMatch(/"spare":false,[^\n]*"msg":"copied the pristine cluster"/)
    expect(await textRows(s, 'SELECT 1 + 1')).toEqual(['2'])
    await spareMade('pristine')
    expect(control(spare('pristine')).equals(control(path.join(cache, entry('pristine'))))).toBe(true)
    expect(fs.existsSync(abandoned)).toBe(false)
  }, 300_000)
})
