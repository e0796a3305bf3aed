// TLS: with --tls-cert/--tls-key the server answers SSLRequest with S and speaks TLS (SCRAM inside it);
// clients that do not ask for TLS still connect in the clear.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let dir: string
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-tls-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  srv = await startServer({
    args: [
      '--tls-cert',
      path.join(dir, 'cert.pem'),
      '--tls-key',
      path.join(dir, 'key.pem'),
      '--auth',
      'scram-sha-256',
      '--password',
      'tls-pw',
    ],
  })
})
afterAll(async () => {
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const psql = (sslmode: string, sql: string) =>
  execFileSync(
    'psql',
    [
      '-X',
      '-At',
      '-d',
      `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=${sslmode}`,
      '-c',
      sql,
    ],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
  ).trim()

describe('TLS', () => {
  it('serves psql over TLS when asked (sslmode=require), in the clear otherwise', () => {
    const secure = execFileSync(
      'psql',
      [
        '-X',
        '-d',
        `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=require`,
        '-c',
        '\\conninfo',
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
    )
    expect(secure).toMatch(/SSL connection \(protocol: TLSv1\.[23]/)
    expect(psql('require', 'SELECT 6 * 7')).toBe('42')
    const clear = execFileSync(
      'psql',
      [
        '-X',
        '-d',
        `host=${srv.host} port=${srv.port} user=postgres dbname=postgres sslmode=disable`,
        '-c',
        '\\conninfo',
      ],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: 'tls-pw' } },
    )
    expect(clear).not.toContain('SSL connection')
    expect(psql('disable', 'SELECT 1')).toBe('1')
  })

  it('serves node-postgres over TLS, large results included', async () => {
    const c = new pg.Client({
      host: srv.host,
      port: srv.port,
      user: 'postgres',
      password: 'tls-pw',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    })
    await c.connect()
    const r = await c.query(
      "SELECT count(*)::int AS n, sum(length(repeat('z', i)))::int AS len FROM generate_series(1, 2000) i",
    )
    expect(r.rows).toEqual([{ n: 2000, len: 2001000 }])
    const big = await c.query("SELECT repeat('q', 5000000) AS s")
    expect(big.rows[0].s.length).toBe(5_000_000)
    await c.end()
  })
})
