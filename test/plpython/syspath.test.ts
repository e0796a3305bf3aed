// sys.path extended by configuration: `--python-path` (the engine's `pythonPath` option) makes packages
// installed outside the standard library importable from PL/Python functions; the standard library
// imports without it; the interpreter is the CPython the package was built against.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, fn, value } from './util.js'

let srv: TestServer
let c: Client
let dir: string
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-syspath-'))
  const pkg = path.join(dir, 'site', 'tinypkg')
  fs.mkdirSync(pkg, { recursive: true })
  fs.writeFileSync(path.join(pkg, '__init__.py'), 'def greet(name):\n    return "hello " + name\n')
  srv = await startServer({ args: ['--python-path', path.join(dir, 'site')] })
  c = await connect(srv)
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('Python environment', () => {
  it('imports packages from configured sys.path entries, and the standard library', async () => {
    await fn(
      c,
      'greet(n text) RETURNS text',
      "import tinypkg, json, hashlib\nreturn tinypkg.greet(n) + ' ' + json.dumps([hashlib.sha1(b'x').hexdigest()[:6]])",
    )
    expect(await value(c, `SELECT greet('world')`)).toBe('hello world ["11f6ad"]')
    await fn(c, 'last_path() RETURNS text', 'import sys\nreturn sys.path[-1]')
    expect(await value(c, 'SELECT last_path()')).toBe(path.join(dir, 'site'))
  })

  it('is the CPython the package was built against', async () => {
    await fn(
      c,
      'pyexe() RETURNS text',
      "import sys\nreturn '%d.%d %s' % (sys.version_info[0], sys.version_info[1], sys.base_prefix)",
    )
    expect(await value(c, 'SELECT pyexe()')).toMatch(/^3\.\d+ \/usr$/)
  })
})
