-- Arguments the plpy functions and the methods of its objects refuse, with CPython's messages for their C
-- calling conventions: METH_NOARGS (plpy.subtransaction/commit/rollback, PLyResult.colnames/coltypes/
-- coltypmods, PLyCursor.close), METH_VARARGS with no keywords (PLyResult.nrows/status, PLyCursor.fetch's
-- "i", PLySubtransaction.__enter__ ignoring its arguments), PyArg_ParseTuple's "s|O:prepare". Expected
-- output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
DO $$
r = plpy.execute('select 1 as a')
p = plpy.prepare('select $1::int as a', ['int'])
c = plpy.cursor('select g as a from generate_series(1, 3) g')
calls = [
    ('r.nrows(1)', lambda: r.nrows(1)),
    ('r.nrows(x=1)', lambda: r.nrows(x=1)),
    ('r.status(x=1)', lambda: r.status(x=1)),
    ('r.colnames()', lambda: r.colnames()),
    ('r.colnames(1)', lambda: r.colnames(1)),
    ('r.coltypes(1, 2)', lambda: r.coltypes(1, 2)),
    ('r.coltypmods(x=1)', lambda: r.coltypmods(x=1)),
    ('r.coltypes(x=1)', lambda: r.coltypes(x=1)),
    ('p.status(x=1)', lambda: p.status(x=1)),
    ('p.cursor(x=1)', lambda: p.cursor(x=1)),
    ('c.fetch(n=1)', lambda: c.fetch(n=1)),
    ('c.fetch()', lambda: c.fetch()),
    ('c.fetch(1, 2)', lambda: c.fetch(1, 2)),
    ('c.fetch("1")', lambda: c.fetch("1")),
    ('c.fetch(1.0)', lambda: c.fetch(1.0)),
    ('c.fetch(None)', lambda: c.fetch(None)),
    ('c.fetch(True)', lambda: c.fetch(True)[0]['a']),
    ('c.fetch(2**31)', lambda: c.fetch(2**31)),
    ('c.fetch(-2**31 - 1)', lambda: c.fetch(-2**31 - 1)),
    ('c.fetch(2**40)', lambda: c.fetch(2**40)),
    ('c.fetch(-2**40)', lambda: c.fetch(-2**40)),
    ('c.fetch(2**63)', lambda: c.fetch(2**63)),
    ('c.fetch(-2**70)', lambda: c.fetch(-2**70)),
    ('c.fetch(2**31 - 1)', lambda: [x['a'] for x in c.fetch(2**31 - 1)]),
    ('c.close(1)', lambda: c.close(1)),
    ('c.close(x=1)', lambda: c.close(x=1)),
    ('plpy.subtransaction(1)', lambda: plpy.subtransaction(1)),
    ('plpy.subtransaction(x=1)', lambda: plpy.subtransaction(x=1)),
    ('plpy.commit(1)', lambda: plpy.commit(1)),
    ('plpy.commit(x=1)', lambda: plpy.commit(x=1)),
    ('plpy.rollback(1, 2)', lambda: plpy.rollback(1, 2)),
    ('plpy.prepare()', lambda: plpy.prepare()),
    ('plpy.prepare("select 1", [], 3)', lambda: plpy.prepare('select 1', [], 3)),
]
for name, f in calls:
    try:
        plpy.notice('%s -> %r' % (name, f()))
    except Exception as e:
        plpy.notice('%s -> %s: %s' % (name, type(e).__name__, e))
$$ LANGUAGE plpython3u;
-- __enter__ ignores its arguments (METH_VARARGS); __exit__ takes exactly three
DO $$
s = plpy.subtransaction()
s.__enter__(1, 2)
plpy.execute('select 1')
try:
    s.__exit__()
except TypeError as e:
    plpy.notice('%s: %s' % (type(e).__name__, e))
try:
    s.__exit__(None, None, None, x=1)
except TypeError as e:
    plpy.notice('%s: %s' % (type(e).__name__, e))
s.__exit__(None, None, None)
plpy.notice('exited')
$$ LANGUAGE plpython3u;
