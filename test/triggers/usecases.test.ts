// The seed use cases end to end through real clients: an audit table written by AFTER triggers, a
// BEFORE trigger enforcing a rule SQL cannot express that rejects bad rows with plpy.error (detail and
// hint reach node-postgres and psql), and a summary table kept up to date by a trigger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { psql } from '../plpy/clients.js'
import { type Client, connect, failure, fn } from '../plpython/util.js'

describe('trigger use cases', () => {
  let srv: TestServer
  let c: Client
  beforeAll(async () => {
    srv = await startServer()
    c = await connect(srv)
  })
  afterAll(async () => {
    await c?.end()
    await srv?.stop()
  })

  it('audits every change of a table into an audit table (AFTER ROW triggers)', async () => {
    await c.query('CREATE TABLE account (id int PRIMARY KEY, owner text, balance numeric(12,2))')
    await c.query(
      `CREATE TABLE audit_log (seq serial, tab text, op text, old jsonb, new jsonb, at_user text)`,
    )
    await fn(
      c,
      'audit() RETURNS trigger',
      `import json, decimal
def enc(row):
    return None if row is None else json.dumps(row, default=lambda v: str(v) if isinstance(v, decimal.Decimal) else v)
if 'plan' not in SD:
    SD['plan'] = plpy.prepare('INSERT INTO audit_log (tab, op, old, new, at_user) VALUES ($1, $2, $3, $4, current_user)',
                              ['text', 'text', 'jsonb', 'jsonb'])
plpy.execute(SD['plan'], ['%s.%s' % (TD['table_schema'], TD['table_name']), TD['event'], enc(TD['old']), enc(TD['new'])])`,
    )
    await c.query(
      'CREATE TRIGGER account_audit AFTER INSERT OR UPDATE OR DELETE ON account FOR EACH ROW EXECUTE FUNCTION audit()',
    )
    await c.query(`INSERT INTO account VALUES (1, 'ann', 10), (2, 'bob', 20.5)`)
    await c.query('UPDATE account SET balance = balance + 1 WHERE id = 2')
    await c.query('DELETE FROM account WHERE id = 1')
    // a rolled-back change leaves no audit row
    await c.query('BEGIN')
    await c.query(`UPDATE account SET owner = 'eve'`)
    await c.query('ROLLBACK')
    const r = await c.query('SELECT tab, op, old, new, at_user FROM audit_log ORDER BY seq')
    expect(r.rows).toEqual([
      {
        tab: 'public.account',
        op: 'INSERT',
        old: null,
        new: { id: 1, owner: 'ann', balance: '10.00' },
        at_user: 'postgres',
      },
      {
        tab: 'public.account',
        op: 'INSERT',
        old: null,
        new: { id: 2, owner: 'bob', balance: '20.50' },
        at_user: 'postgres',
      },
      {
        tab: 'public.account',
        op: 'UPDATE',
        old: { id: 2, owner: 'bob', balance: '20.50' },
        new: { id: 2, owner: 'bob', balance: '21.50' },
        at_user: 'postgres',
      },
      {
        tab: 'public.account',
        op: 'DELETE',
        old: { id: 1, owner: 'ann', balance: '10.00' },
        new: null,
        at_user: 'postgres',
      },
    ])
  })

  it('rejects rows breaking a rule SQL cannot express, with detail and hint, and normalises good ones', async () => {
    await c.query('CREATE TABLE card (id int, number text, holder text)')
    await fn(
      c,
      'card_check() RETURNS trigger',
      `digits = [int(ch) for ch in TD['new']['number'] if ch.isdigit()]
total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
if len(digits) < 12 or total % 10:
    plpy.error('card number %s fails the Luhn check' % TD['new']['number'],
               detail='checksum digit sum is %d' % total,
               hint='check for a mistyped digit',
               sqlstate='23514', table_name=TD['table_name'], column_name='number', constraint_name='luhn')
TD['new']['number'] = ''.join(map(str, digits))
TD['new']['holder'] = TD['new']['holder'].strip().title()
return 'MODIFY'`,
    )
    await c.query(
      'CREATE TRIGGER card_b BEFORE INSERT OR UPDATE OF number ON card FOR EACH ROW EXECUTE FUNCTION card_check()',
    )
    await c.query(`INSERT INTO card VALUES (1, '4539 1488 0343 6467', '  ann lee ')`)
    const e = await failure(c, `INSERT INTO card VALUES (2, '4539 1488 0343 6468', 'bob')`)
    expect({
      code: e.code,
      message: e.message,
      detail: e.detail,
      hint: e.hint,
      table: e.table,
      column: e.column,
      constraint: e.constraint,
      where: e.where,
    }).toEqual({
      code: '23514',
      message: 'plpy.Error: card number 4539 1488 0343 6468 fails the Luhn check',
      detail: 'checksum digit sum is 81',
      hint: 'check for a mistyped digit',
      table: 'card',
      column: 'number',
      constraint: 'luhn',
      where: expect.stringContaining('PL/Python function "card_check"'),
    })
    expect((await c.query('SELECT id, number, holder FROM card')).rows).toEqual([
      { id: 1, number: '4539148803436467', holder: 'Ann Lee' },
    ])
    // the same rejection as psql shows it
    const run = await psql(srv, `UPDATE card SET number = '1234-5678-9012-3456';\n`)
    expect(run.stderr).toMatch(
      /^ERROR: {2}plpy\.Error: card number 1234-5678-9012-3456 fails the Luhn check\nDETAIL: {2}checksum digit sum is 64\nHINT: {2}check for a mistyped digit\nCONTEXT: {2}Traceback \(most recent call last\):\n/,
    )
    expect((await c.query('SELECT number FROM card')).rows).toEqual([{ number: '4539148803436467' }])
  })

  it('keeps a summary table up to date through inserts, updates that move rows, and deletes', async () => {
    await c.query('CREATE TABLE sale (id serial, region text, amount numeric)')
    await c.query('CREATE TABLE region_total (region text PRIMARY KEY, n int, total numeric)')
    await fn(
      c,
      'sale_summary() RETURNS trigger',
      `if 'add' not in SD:
    SD['add'] = plpy.prepare('''INSERT INTO region_total VALUES ($1, $2, $3)
        ON CONFLICT (region) DO UPDATE SET n = region_total.n + $2, total = region_total.total + $3''',
        ['text', 'int', 'numeric'])
if TD['old'] is not None:
    plpy.execute(SD['add'], [TD['old']['region'], -1, -TD['old']['amount']])
if TD['new'] is not None:
    plpy.execute(SD['add'], [TD['new']['region'], 1, TD['new']['amount']])`,
    )
    await c.query(
      'CREATE TRIGGER sale_sum AFTER INSERT OR UPDATE OR DELETE ON sale FOR EACH ROW EXECUTE FUNCTION sale_summary()',
    )
    await c.query(`INSERT INTO sale (region, amount)
      SELECT (ARRAY['north', 'south', 'east'])[1 + i % 3], (i * 7 % 100) / 4.0 FROM generate_series(1, 300) i`)
    await c.query(`UPDATE sale SET region = 'west' WHERE id % 10 = 0`)
    await c.query(`UPDATE sale SET amount = amount * 2 WHERE region = 'north'`)
    await c.query(`DELETE FROM sale WHERE id % 7 = 0`)
    const got = await c.query('SELECT region, n, total FROM region_total WHERE n > 0 ORDER BY region')
    const want = await c.query(
      'SELECT region, count(*)::int AS n, sum(amount) AS total FROM sale GROUP BY region ORDER BY region',
    )
    expect(got.rows.map((r) => [r.region, r.n, Number(r.total)])).toEqual(
      want.rows.map((r) => [r.region, r.n, Number(r.total)]),
    )
    expect(got.rows.map((r) => r.region)).toEqual(['east', 'north', 'south', 'west'])
  })
})
