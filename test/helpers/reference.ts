// The yardsticks tests compare pyglite with: a private PostgreSQL 15 + plpython3u started for the test file
// (scripts/bench/refpg.mjs, shared with the benchmarks) and the pg_dump 18.6 client programs
// (scripts/get-pg18-client.sh, built once).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { ROOT, startServer, type TestServer } from './server.js'

export interface Reference {
  /** postgresql:// URL of its postgres database, user postgres, trust */
  url: string
  version: string
  stop(): void
}

/** Start a private PostgreSQL 15 + plpython3u; stop() it in afterAll. */
export async function startReference(): Promise<Reference> {
  const m = (await import(path.join(ROOT, 'scripts/bench/refpg.mjs'))) as {
    startReference(): Promise<Reference>
  }
  return m.startReference()
}

/** The directory holding pg_dump, pg_dumpall and pg_restore 18.6 (built on first use). */
export function pg18Bin(): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts/get-pg18-client.sh')], { encoding: 'utf8' }).trim()
}

/** The dump tests' servers: pyglite and the reference, and pg_dump 18's directory (fields set in beforeAll). */
export interface DumpServers {
  glite: TestServer
  ref: Reference
  pg18: string
  /** the reference's URL for another database */
  refUrl(db: string): string
}

/** Start pyglite and the reference together before the file's tests and stop both after them. */
export function dumpServers(): DumpServers {
  const servers = { refUrl: (db: string) => servers.ref.url.replace(/\/postgres$/, `/${db}`) } as DumpServers
  beforeAll(async () => {
    ;[servers.glite, servers.ref] = await Promise.all([startServer(), startReference()])
    servers.pg18 = pg18Bin()
  }, 600_000)
  afterAll(async () => {
    servers.ref?.stop()
    await servers.glite?.stop()
  })
  return servers
}
