// Where Python triggers fire: every timing, level and event, UPDATE OF and WHEN, deferred constraint
// triggers, INSTEAD OF on views, transition tables, and every way rows change (INSERT … SELECT, COPY FROM
// through psql, ON CONFLICT, MERGE, PL/pgSQL, plpy.execute, cascading triggers, FK cascades, partitions);
// ROLLBACK and savepoints undo what triggers did. Notice order and contents as PostgreSQL 15 + plpython3u.
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { psql } from '../plpy/clients.js'
import { type Client, connect, fn } from '../plpython/util.js'

describe('trigger firing', () => {
  let srv: TestServer
  let c: Client
  beforeAll(async () => {
    srv = await startServer()
    c = await connect(srv)
    await fn(
      c,
      'note() RETURNS trigger',
      `plpy.notice('%s %s %s %s' % (TD['name'], TD['when'], TD['level'], TD['event']))`,
    )
  })
  afterAll(async () => {
    await c?.end()
    await srv?.stop()
  })

  const messages = () => c.notices.splice(0).map((n) => n.message)

  it('fires BEFORE/AFTER × ROW/STATEMENT for INSERT, UPDATE, DELETE and TRUNCATE in PostgreSQL’s order', async () => {
    await c.query('CREATE TABLE ev (a int)')
    for (const when of ['BEFORE', 'AFTER'])
      for (const level of ['STATEMENT', 'ROW'])
        await c.query(`CREATE TRIGGER t_${when[0]}${level[0]} ${when} INSERT OR UPDATE OR DELETE ON ev
          FOR EACH ${level} EXECUTE FUNCTION note()`)
    await c.query('CREATE TRIGGER tr BEFORE TRUNCATE ON ev FOR EACH STATEMENT EXECUTE FUNCTION note()')
    messages()
    await c.query('INSERT INTO ev VALUES (1), (2)')
    expect(messages()).toEqual([
      't_bs BEFORE STATEMENT INSERT',
      't_br BEFORE ROW INSERT',
      't_br BEFORE ROW INSERT',
      't_ar AFTER ROW INSERT',
      't_ar AFTER ROW INSERT',
      't_as AFTER STATEMENT INSERT',
    ])
    await c.query('UPDATE ev SET a = a + 1 WHERE a = 1')
    expect(messages()).toEqual([
      't_bs BEFORE STATEMENT UPDATE',
      't_br BEFORE ROW UPDATE',
      't_ar AFTER ROW UPDATE',
      't_as AFTER STATEMENT UPDATE',
    ])
    await c.query('DELETE FROM ev WHERE a = 0') // no rows: statement triggers only
    expect(messages()).toEqual(['t_bs BEFORE STATEMENT DELETE', 't_as AFTER STATEMENT DELETE'])
    await c.query('TRUNCATE ev')
    expect(messages()).toEqual(['tr BEFORE STATEMENT TRUNCATE'])
  })

  it('honours UPDATE OF columns and WHEN conditions', async () => {
    await c.query('CREATE TABLE uo (a int, b int)')
    await c.query('INSERT INTO uo VALUES (1, 1)')
    await c.query('CREATE TRIGGER uo_b BEFORE UPDATE OF b ON uo FOR EACH ROW EXECUTE FUNCTION note()')
    await c.query(
      'CREATE TRIGGER uo_w AFTER UPDATE ON uo FOR EACH ROW WHEN (NEW.a > 5) EXECUTE FUNCTION note()',
    )
    messages()
    await c.query('UPDATE uo SET a = 2')
    expect(messages()).toEqual([])
    await c.query('UPDATE uo SET b = 2')
    expect(messages()).toEqual(['uo_b BEFORE ROW UPDATE'])
    await c.query('UPDATE uo SET a = 10')
    expect(messages()).toEqual(['uo_w AFTER ROW UPDATE'])
  })

  it('runs deferred constraint triggers at COMMIT (or SET CONSTRAINTS … IMMEDIATE)', async () => {
    await c.query('CREATE TABLE ct (a int)')
    await c.query(`CREATE CONSTRAINT TRIGGER ct_c AFTER INSERT ON ct DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION note()`)
    messages()
    await c.query('BEGIN')
    await c.query('INSERT INTO ct VALUES (1)')
    expect(messages()).toEqual([])
    await c.query('COMMIT')
    expect(messages()).toEqual(['ct_c AFTER ROW INSERT'])
    await c.query('BEGIN')
    await c.query('INSERT INTO ct VALUES (2)')
    await c.query('SET CONSTRAINTS ct_c IMMEDIATE')
    expect(messages()).toEqual(['ct_c AFTER ROW INSERT'])
    await c.query('COMMIT')
    expect(messages()).toEqual([])
    // an error in a deferred trigger fails the COMMIT and rolls the transaction back
    await fn(c, 'deny() RETURNS trigger', `plpy.error('denied at commit')`)
    await c.query(`CREATE CONSTRAINT TRIGGER ct_d AFTER INSERT ON ct DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION deny()`)
    await c.query('BEGIN')
    await c.query('INSERT INTO ct VALUES (3)')
    const e = await c.query('COMMIT').catch((x) => x)
    expect([e.code, e.message, e.where]).toEqual([
      'XX000',
      'plpy.Error: denied at commit',
      expect.any(String),
    ])
    expect((await c.query('SELECT array_agg(a ORDER BY a) AS a FROM ct')).rows[0].a).toEqual([1, 2])
  })

  it('runs INSTEAD OF triggers on views; MODIFY shapes RETURNING, SKIP leaves the row out', async () => {
    await c.query('CREATE TABLE base (a int, b int)')
    await c.query('CREATE VIEW v AS SELECT * FROM base')
    await fn(
      c,
      'vins() RETURNS trigger',
      `if TD['new']['a'] == 0:
    return 'SKIP'
plpy.execute('INSERT INTO base VALUES (%d, %d)' % (TD['new']['a'], TD['new']['b']))
TD['new']['b'] = 99
return 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER v_i INSTEAD OF INSERT ON v FOR EACH ROW EXECUTE FUNCTION vins()')
    const r = await c.query('INSERT INTO v VALUES (20, 1), (0, 0) RETURNING *')
    expect([r.rowCount, r.rows]).toEqual([1, [{ a: 20, b: 99 }]])
    expect((await c.query('SELECT * FROM base')).rows).toEqual([{ a: 20, b: 1 }])
  })

  it('lets statement triggers read transition tables with plpy.execute', async () => {
    await c.query('CREATE TABLE tt (id int, v text)')
    await fn(
      c,
      'ttf() RETURNS trigger',
      `for name in ('newt', 'oldt'):
    if (name == 'newt') == (TD['event'] != 'DELETE') or TD['event'] == 'UPDATE':
        r = plpy.execute("SELECT count(*) AS n, string_agg(v, ',' ORDER BY id) AS s FROM " + name)
        plpy.notice('%s %s %s: %d %s' % (TD['event'], TD['level'], name, r[0]['n'], r[0]['s']))`,
    )
    await c.query(`CREATE TRIGGER tt_i AFTER INSERT ON tt REFERENCING NEW TABLE AS newt
      FOR EACH STATEMENT EXECUTE FUNCTION ttf()`)
    await c.query(`CREATE TRIGGER tt_u AFTER UPDATE ON tt REFERENCING OLD TABLE AS oldt NEW TABLE AS newt
      FOR EACH STATEMENT EXECUTE FUNCTION ttf()`)
    await c.query(`CREATE TRIGGER tt_d AFTER DELETE ON tt REFERENCING OLD TABLE AS oldt
      FOR EACH ROW EXECUTE FUNCTION ttf()`)
    messages()
    await c.query(`INSERT INTO tt SELECT i, 'v' || i FROM generate_series(1, 3) i`)
    await c.query('UPDATE tt SET v = upper(v) WHERE id < 3')
    await c.query('DELETE FROM tt WHERE id = 1')
    expect(messages()).toEqual([
      'INSERT STATEMENT newt: 3 v1,v2,v3',
      'UPDATE STATEMENT newt: 2 V1,V2',
      'UPDATE STATEMENT oldt: 2 v1,v2',
      'DELETE ROW oldt: 1 V1',
    ])
  })

  it('fires from ON CONFLICT, MERGE, COPY FROM, PL/pgSQL and plpy.execute', async () => {
    await c.query('CREATE TABLE up (k int PRIMARY KEY, v text)')
    await fn(
      c,
      'upf() RETURNS trigger',
      `plpy.notice('%s %s %r' % (TD['when'], TD['event'], TD['new'] and TD['new'].get('v')))
if TD['when'] == 'BEFORE':
    TD['new']['v'] = TD['new']['v'] + '!'
    return 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER up_b BEFORE INSERT OR UPDATE ON up FOR EACH ROW EXECUTE FUNCTION upf()')
    await c.query('CREATE TRIGGER up_a AFTER INSERT OR UPDATE ON up FOR EACH ROW EXECUTE FUNCTION upf()')
    messages()
    const upsert = `INSERT INTO up VALUES (1, 'a') ON CONFLICT (k) DO UPDATE SET v = 'conflict'`
    await c.query(upsert)
    expect(messages()).toEqual(["BEFORE INSERT 'a'", "AFTER INSERT 'a!'"])
    await c.query(upsert)
    expect(messages()).toEqual(["BEFORE INSERT 'a'", "BEFORE UPDATE 'conflict'", "AFTER UPDATE 'conflict!'"])
    await c.query(`MERGE INTO up u USING (VALUES (1, 'm1'), (2, 'm2')) s(k, v) ON u.k = s.k
      WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v)`)
    expect(messages()).toEqual([
      "BEFORE UPDATE 'm1'",
      "BEFORE INSERT 'm2'",
      "AFTER UPDATE 'm1!'",
      "AFTER INSERT 'm2!'",
    ])
    const copy = await psql(srv, 'COPY up FROM stdin;\n3\tc1\n4\tc2\n\\.\n')
    expect([copy.code, copy.stderr]).toEqual([
      0,
      "NOTICE:  BEFORE INSERT 'c1'\nNOTICE:  BEFORE INSERT 'c2'\nNOTICE:  AFTER INSERT 'c1!'\nNOTICE:  AFTER INSERT 'c2!'\n",
    ])
    await c.query(
      `DO $$ BEGIN INSERT INTO up VALUES (5, 'plpgsql'); UPDATE up SET v = 'p2' WHERE k = 5; END $$`,
    )
    expect(messages()).toEqual([
      "BEFORE INSERT 'plpgsql'",
      "AFTER INSERT 'plpgsql!'",
      "BEFORE UPDATE 'p2'",
      "AFTER UPDATE 'p2!'",
    ])
    await fn(
      c,
      'pyins(k int) RETURNS text',
      `plpy.execute(plpy.prepare('INSERT INTO up VALUES ($1, $2)', ['int', 'text']), [k, 'py'])
return plpy.execute('SELECT v FROM up WHERE k = %d' % k)[0]['v']`,
    )
    expect((await c.query('SELECT pyins(6) AS v')).rows).toEqual([{ v: 'py!' }])
    expect(messages()).toEqual(["BEFORE INSERT 'py'", "AFTER INSERT 'py!'"])
    await c.query(`INSERT INTO up SELECT i, 'sel' || i FROM generate_series(7, 1006) i`)
    expect(messages().length).toBe(2000)
    expect((await c.query(`SELECT count(*)::int AS n FROM up WHERE v LIKE '%!'`)).rows[0].n).toBe(1006)
  })

  it('cascades: triggers writing tables with triggers, FK cascades, partitions', async () => {
    await c.query('CREATE TABLE parent (id int PRIMARY KEY)')
    await c.query('CREATE TABLE child (id int, pid int REFERENCES parent ON DELETE CASCADE)')
    await c.query('CREATE TABLE audit (tab text, op text, id int)')
    await fn(
      c,
      'aud() RETURNS trigger',
      `row = TD['new'] or TD['old']
plpy.execute(plpy.prepare('INSERT INTO audit VALUES ($1, $2, $3)', ['text', 'text', 'int']), [TD['table_name'], TD['event'], row['id']])
if TD['table_name'] == 'parent' and TD['event'] == 'INSERT':
    plpy.execute('INSERT INTO child VALUES (%d, %d)' % (row['id'] * 10, row['id']))`,
    )
    await c.query('CREATE TRIGGER p_a AFTER INSERT OR DELETE ON parent FOR EACH ROW EXECUTE FUNCTION aud()')
    await c.query('CREATE TRIGGER c_a AFTER INSERT OR DELETE ON child FOR EACH ROW EXECUTE FUNCTION aud()')
    await c.query('INSERT INTO parent VALUES (1), (2)')
    await c.query('DELETE FROM parent WHERE id = 1')
    expect(
      (await c.query('SELECT tab, op, id FROM audit')).rows.map((r) => `${r.tab} ${r.op} ${r.id}`),
    ).toEqual([
      'parent INSERT 1',
      'child INSERT 10',
      'parent INSERT 2',
      'child INSERT 20',
      'parent DELETE 1',
      'child DELETE 10',
    ])
    await c.query('CREATE TABLE pt (a int, b text) PARTITION BY RANGE (a)')
    await c.query('CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (10)')
    await c.query('CREATE TABLE pt2 PARTITION OF pt FOR VALUES FROM (10) TO (20)')
    await fn(
      c,
      'ptf() RETURNS trigger',
      `TD['new']['b'] = '%s.%s' % (TD['table_name'], TD['name'])\nreturn 'MODIFY'`,
    )
    await c.query('CREATE TRIGGER pt_b BEFORE INSERT ON pt FOR EACH ROW EXECUTE FUNCTION ptf()')
    await c.query(`INSERT INTO pt VALUES (1, ''), (15, '')`)
    expect((await c.query('SELECT a, b FROM pt ORDER BY a')).rows).toEqual([
      { a: 1, b: 'pt1.pt_b' },
      { a: 15, b: 'pt2.pt_b' },
    ])
  })

  it('ROLLBACK and savepoints undo everything a trigger did', async () => {
    const audited = async () =>
      (
        await c.query(
          `SELECT array_agg(tab || ':' || id ORDER BY tab, id) AS a FROM audit WHERE id IN (7, 8, 70, 80)`,
        )
      ).rows[0].a
    await c.query('BEGIN')
    await c.query('INSERT INTO parent VALUES (7)')
    await c.query('SAVEPOINT s')
    await c.query('INSERT INTO parent VALUES (8)')
    expect(await audited()).toEqual(['child:70', 'child:80', 'parent:7', 'parent:8'])
    await c.query('ROLLBACK TO SAVEPOINT s')
    expect(await audited()).toEqual(['child:70', 'parent:7'])
    await c.query('ROLLBACK')
    expect(await audited()).toBe(null)
    // a failing statement undoes its triggers' work too
    await fn(c, 'fail_late() RETURNS trigger', `plpy.error('late failure')`)
    await c.query('CREATE TRIGGER p_f AFTER INSERT ON parent FOR EACH STATEMENT EXECUTE FUNCTION fail_late()')
    const e = await c.query('INSERT INTO parent VALUES (8)').catch((x) => x)
    expect(e.message).toBe('plpy.Error: late failure')
    expect(await audited()).toBe(null)
    expect((await c.query('SELECT count(*)::int AS n FROM child WHERE pid = 8')).rows[0].n).toBe(0)
  })

  it('stops a runaway trigger on cancel; plpy callers can catch a trigger’s error', async () => {
    await c.query('CREATE TABLE spin (a int)')
    await fn(c, 'spin_f() RETURNS trigger', `plpy.notice('spinning')\nwhile True:\n    pass`)
    await c.query('CREATE TRIGGER spin_t BEFORE INSERT ON spin FOR EACH ROW EXECUTE FUNCTION spin_f()')
    // psql sends a CancelRequest on SIGINT; the trigger's NOTICE says it is running
    const p = spawn('psql', ['-X', '-d', srv.url(), '-c', 'INSERT INTO spin VALUES (1)'], {
      env: { ...process.env, LC_MESSAGES: 'C' },
    })
    let stderr = ''
    let signalled = false
    p.stderr.on('data', (d) => {
      stderr += d
      // the NOTICE reaches psql while plpy.notice is still returning: signal once the loop surely runs, so
      // the cancel meets the loop (one landing inside plpy.notice is that call's error instead)
      if (stderr.includes('NOTICE:  spinning') && !signalled) {
        signalled = true
        setTimeout(() => p.kill('SIGINT'), 300)
      }
    })
    const code = await new Promise((resolve) => p.on('close', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain(
      'ERROR:  canceling statement due to user request\nCONTEXT:  PL/Python function "spin_f"',
    )
    expect((await c.query('SELECT count(*)::int AS n FROM spin')).rows[0].n).toBe(0)
    await c.query('DROP TRIGGER spin_t ON spin')
    await fn(
      c,
      'guard_f() RETURNS trigger',
      `if TD['new']['a'] < 0:
    plpy.error('negative', sqlstate='22023')`,
    )
    await c.query('CREATE TRIGGER guard_t BEFORE INSERT ON spin FOR EACH ROW EXECUTE FUNCTION guard_f()')
    await fn(
      c,
      'try_insert(v int) RETURNS text',
      `try:
    plpy.execute('INSERT INTO spin VALUES (%d)' % v)
    return 'inserted'
except plpy.SPIError as e:
    return 'refused: %s %s' % (e.sqlstate, e)`,
    )
    expect((await c.query('SELECT try_insert(-1) AS a, try_insert(2) AS b')).rows).toEqual([
      { a: 'refused: 22023 plpy.Error: negative', b: 'inserted' },
    ])
    expect((await c.query('SELECT array_agg(a) AS a FROM spin')).rows[0].a).toEqual([2])
  })
})
