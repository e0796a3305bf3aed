-- A set-returning generator iterating a plpy cursor, dropped before it is exhausted (LIMIT, an error in
-- the query, a client cursor closed early): the cursor object goes with the generator and unpins and closes
-- its portal (plpy_cursorobject.c PLy_cursor_dealloc), and cursor.close() works in the generator's
-- finally: (PLy_cursor_close needs no execution context); a portal left pinned would fail the commit.
-- Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS srf2 CASCADE;
CREATE SCHEMA srf2;
SET search_path = srf2, public;
RESET client_min_messages;
CREATE TABLE t (a int);
INSERT INTO t SELECT generate_series(1, 10);
CREATE FUNCTION gc() RETURNS SETOF int LANGUAGE plpython3u AS $$
c = plpy.cursor('SELECT a FROM t ORDER BY a')
for r in c:
    yield r['a']
$$;
SELECT gc() LIMIT 2;
SELECT gc() LIMIT 2;
SELECT 10 / (gc() - 3);
SELECT gc() LIMIT 1;
SELECT count(*) FROM pg_cursors;
BEGIN;
SELECT gc() LIMIT 2;
SELECT 10 / (gc() - 3);
ROLLBACK;
BEGIN;
SELECT gc() LIMIT 2;
SAVEPOINT s;
SELECT 10 / (gc() - 3);
ROLLBACK TO s;
SELECT gc() LIMIT 3;
COMMIT;
CREATE FUNCTION gc2() RETURNS SETOF int LANGUAGE plpython3u AS $$
p = plpy.prepare('SELECT a FROM t WHERE a > $1 ORDER BY a', ['int'])
c = p.cursor([2])
try:
    for r in c:
        yield r['a']
finally:
    plpy.notice('closing')
    c.close()
    plpy.notice('closed')
$$;
SELECT gc2() LIMIT 2;
SELECT gc2() LIMIT 1;
SELECT count(*) FROM gc2();
BEGIN;
DECLARE x CURSOR FOR SELECT gc() AS v;
FETCH 2 FROM x;
CLOSE x;
COMMIT;
SELECT count(*) FROM pg_cursors;
DROP SCHEMA srf2 CASCADE;
