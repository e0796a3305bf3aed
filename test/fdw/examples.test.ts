// The worked examples of docs/foreign-tables.md, run as the page shows them: the Python module and the
// SQL blocks are taken from the page itself. A CSV and a JSON-lines file source joined together, an HTTP
// source (a qual becomes a query parameter) and an HTTP sink (batches of 100) against a local server on
// 127.0.0.1, a batching sink that writes only committed rows, and the short form's endless generator.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'foreign-tables.md'), 'utf8')
const blocks = (lang: string) =>
  [...DOC.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!)
const MODULE = blocks('python').find((b) => b.startsWith('# examples_fdw.py'))!
const EXAMPLES = blocks('sql').find((b) => b.startsWith('-- a CSV file'))!
const TICKS = blocks('sql').find((b) => b.startsWith('CREATE SERVER ticks'))!
const DIR = '/tmp/pyglite-examples'

let srv: TestServer
let c: pg.Client
let api: http.Server
const posts: unknown[][] = []

beforeAll(async () => {
  const mod = fs.mkdtempSync(path.join(os.tmpdir(), 'fdw-examples-'))
  fs.writeFileSync(path.join(mod, 'examples_fdw.py'), MODULE)
  fs.mkdirSync(DIR, { recursive: true })
  fs.writeFileSync(`${DIR}/people.csv`, 'id,name,born\n1,Ada,1815-12-10\n2,Alan,1912-06-23\n3,Grace,\n')
  fs.writeFileSync(
    `${DIR}/events.jsonl`,
    '{"id": 1, "kind": "login", "payload": {"ip": "10.0.0.1"}}\n\n{"id": 3, "kind": "logout", "payload": null}\n',
  )
  fs.rmSync(`${DIR}/outbox.jsonl`, { force: true })
  api = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (req.method === 'GET' && url.pathname === '/users') {
      const users = [
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
      ]
      const id = url.searchParams.get('id')
      res.end(JSON.stringify(id ? users.filter((u) => String(u.id) === id) : users))
      return
    }
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      posts.push(JSON.parse(body))
      res.end('ok')
    })
  })
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
  srv = await startServer({ args: ['--python-path', mod] })
  c = new pg.Client(srv.url())
  await c.connect()
  await c.query('CREATE EXTENSION multicorn')
}, 120_000)

afterAll(async () => {
  await c?.end()
  await srv?.stop()
  api?.close()
})

it('runs the worked examples as written', async () => {
  const port = (api.address() as AddressInfo).port
  const results: pg.QueryResult[] = []
  for (const stmt of EXAMPLES.replaceAll('8765', String(port)).split(/;\n/)) {
    const sql = stmt.replace(/^--.*$/gm, '').trim()
    if (sql) results.push(await c.query(sql))
  }
  const select = results.filter((r) => r.command === 'SELECT')
  expect(select[0]!.rows).toEqual([
    { name: 'Ada', kind: 'login' },
    { name: 'Grace', kind: 'logout' },
  ])
  expect(select[1]!.rows).toEqual([{ name: 'two' }])
  expect(posts.map((p) => p.length)).toEqual([100, 100, 50])
  expect(posts[0]![0]).toEqual({ id: 1, msg: 'message 1' })
  const outbox = fs
    .readFileSync(`${DIR}/outbox.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  expect(outbox.length).toBe(1200)
  expect(outbox.every((r) => r.msg === 'sent')).toBe(true)
  // the date column and the NULL from an empty CSV field
  expect((await c.query('SELECT born::text FROM people ORDER BY id')).rows).toEqual([
    { born: '1815-12-10' },
    { born: '1912-06-23' },
    { born: null },
  ])
})

it('runs the short form: an endless generator stopped by LIMIT', async () => {
  const r = (await c.query(TICKS)) as unknown as pg.QueryResult[]
  expect(r.at(-1)!.rows).toEqual([
    { n: '1', square: '1' },
    { n: '2', square: '4' },
    { n: '3', square: '9' },
  ])
  const e = await c
    .query("CREATE FOREIGN TABLE sneaky (n int) SERVER ticks OPTIONS (code 'import os')")
    .catch((x) => x)
  expect([e.code, e.message]).toEqual([
    'HV00D',
    'Cannot set the code option on a foreign table or a user mapping',
  ])
})
