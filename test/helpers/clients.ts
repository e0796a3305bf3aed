// Client-side pieces several test files need: a connected node-postgres client, a query's rows as text, a
// CancelRequest as libpq sends it, and running one of the tests' Java (pgJDBC) programs that print key=value lines.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { TestServer } from './server.js'

/**
 * A node-postgres client connected to `srv`, as postgres to database postgres (`extra` overrides any of it).
 * `quiet`: connection errors after the connect (a FATAL, a killed server) are not thrown at the process.
 */
export async function connectPg(
  srv: TestServer,
  extra: Partial<pg.ClientConfig> = {},
  { quiet = false } = {},
): Promise<pg.Client> {
  const c = new pg.Client({
    host: srv.host,
    port: srv.port,
    user: 'postgres',
    database: 'postgres',
    ...extra,
  })
  if (quiet) c.on('error', () => {})
  await c.connect()
  return c
}

/** Run `sql` on a new connection to database `db`; each row as its values joined by '|' (NULL as '∅'). */
export async function textRows(srv: TestServer, sql: string, db = 'postgres'): Promise<string[]> {
  const c = new pg.Client(srv.url(db))
  await c.connect()
  try {
    const r = await c.query({ text: sql, rowMode: 'array' })
    return r.rows.map((row: unknown[]) => row.map((v) => (v === null ? '∅' : String(v))).join('|'))
  } finally {
    await c.end()
  }
}

/** A CancelRequest packet (protocol.sgml: length 16, code 80877102, process id, secret key). */
export function cancelPacket(pid: number, secret: number): Buffer {
  const b = Buffer.alloc(16)
  b.writeInt32BE(16, 0)
  b.writeInt32BE(80877102, 4)
  b.writeInt32BE(pid, 8)
  b.writeInt32BE(secret, 12)
  return b
}

/** Send a CancelRequest for node-postgres client `c`'s backend on its own connection, as libpq does. */
export async function cancelClient(srv: TestServer, c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number }
  const b = cancelPacket(processID, secretKey)
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(srv.port, srv.host, () => s.end(b))
    s.on('close', () => resolve())
    s.on('error', reject)
  })
}

/**
 * Compile `javaFile` (class `className`) with javac and run it against `srv`'s postgres database with
 * Debian's pgJDBC; returns its key=value output lines as an object (lines split at `split`).
 */
export function runJdbcProgram(
  srv: TestServer,
  javaFile: string,
  className: string,
  split: string | RegExp = '\n',
): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-jdbc-'))
  try {
    execFileSync('javac', ['-cp', '/usr/share/java/postgresql.jar', '-d', dir, javaFile])
    const out = execFileSync(
      'java',
      [
        '-cp',
        `${dir}:/usr/share/java/postgresql.jar`,
        className,
        `jdbc:postgresql://${srv.host}:${srv.port}/postgres`,
      ],
      { encoding: 'utf8' },
    )
    return Object.fromEntries(
      out
        .trim()
        .split(split)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
