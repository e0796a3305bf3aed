// sys.path extended by configuration: the engine's `pythonPath` option (the CLI flag is the wire layer's)
// makes packages installed outside the standard library importable from PL/Python functions; stdlib
// imports work without it. Runs the real engine (worker thread, PGlite, CPython) built in dist/.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/server.js'

interface EngineLike {
  query<T = Record<string, unknown>>(db: string, sql: string): Promise<T[]>
  close(): Promise<void>
}

let engine: EngineLike
let dir: string
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-syspath-'))
  const pkg = path.join(dir, 'site', 'tinypkg')
  fs.mkdirSync(pkg, { recursive: true })
  fs.writeFileSync(path.join(pkg, '__init__.py'), 'def greet(name):\n    return "hello " + name\n')
  const { Engine } = (await import(path.join(ROOT, 'dist/engine/client.js'))) as {
    Engine: { start(c: object): Promise<EngineLike> }
  }
  engine = await Engine.start({
    dataDir: path.join(dir, 'data'),
    pythonPath: [path.join(dir, 'site')],
    maxDepth: 100,
    logLevel: 'warn',
  })
}, 120_000)
afterAll(async () => {
  await engine?.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('Python environment', () => {
  it('imports packages from configured sys.path entries, and the standard library', async () => {
    await engine.query(
      'postgres',
      `CREATE FUNCTION greet(n text) RETURNS text LANGUAGE plpython3u AS $$
import tinypkg, json, hashlib
return tinypkg.greet(n) + ' ' + json.dumps([hashlib.sha1(b'x').hexdigest()[:6]])
$$`,
    )
    const rows = await engine.query<{ greet: string }>('postgres', `SELECT greet('world')`)
    expect(rows).toEqual([{ greet: 'hello world ["11f6ad"]' }])
    await engine.query(
      'postgres',
      `CREATE FUNCTION last_path() RETURNS text LANGUAGE plpython3u AS $$ import sys; return sys.path[-1] $$`,
    )
    expect(await engine.query('postgres', 'SELECT last_path() AS p')).toEqual([{ p: path.join(dir, 'site') }])
  })

  it('is the CPython the package was built against', async () => {
    await engine.query(
      'postgres',
      `CREATE FUNCTION pyexe() RETURNS text LANGUAGE plpython3u AS $$
import sys
return '%d.%d %s' % (sys.version_info[0], sys.version_info[1], sys.base_prefix)
$$`,
    )
    const rows = await engine.query<{ v: string }>('postgres', 'SELECT pyexe() AS v')
    expect(rows[0]?.v).toMatch(/^3\.\d+ \/usr$/)
  })
})
