-- A set-returning function's generator dropped before it is exhausted (a select-list SRF under LIMIT, a
-- query failing meanwhile) is closed when its multi-call memory context goes (plpy_exec.c
-- plpython_srf_cleanup_callback): its finally: blocks run, their plpy.notice & co. are reported, and SPI
-- there fails with "no Python function is currently executing" (PLy_current_execution_context). A FROM
-- clause runs the generator to its end first. Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS srf1 CASCADE;
CREATE SCHEMA srf1;
SET search_path = srf1, public;
RESET client_min_messages;
CREATE TABLE log (n int);
CREATE FUNCTION g_fin(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
finally:
    plpy.notice('finally %d' % n)
$$;
SELECT g_fin(3) LIMIT 1;
SELECT * FROM g_fin(3) LIMIT 1;
SELECT * FROM g_fin(2);
SELECT g_fin(3), g_fin(1);
SELECT a.x, b FROM (VALUES (1), (2)) a(x), LATERAL (SELECT * FROM g_fin(a.x)) b;
PREPARE ps AS SELECT g_fin(4) LIMIT 2;
EXECUTE ps;
EXECUTE ps;
DO LANGUAGE plpgsql $$
DECLARE r int;
BEGIN
  FOR r IN SELECT g_fin(3) LOOP
    IF r = 1 THEN EXIT; END IF;
  END LOOP;
  RAISE NOTICE 'after loop';
END $$;
DO $$
c = plpy.cursor('SELECT g_fin(4)')
plpy.notice(len(c.fetch(1)))
c.close()
plpy.notice('closed')
$$ LANGUAGE plpython3u;
CREATE FUNCTION g_exit(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
except GeneratorExit:
    plpy.notice('genexit %d' % n)
    raise
$$;
SELECT * FROM g_exit(5) LIMIT 2;
SELECT g_exit(5) LIMIT 2;
CREATE FUNCTION g_fin_levels(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
finally:
    plpy.warning('w %d' % n, detail='d', hint='h')
    plpy.info('i')
    plpy.debug('dbg')
    try:
        plpy.error('err in finally')
    except plpy.Error as e:
        plpy.notice('caught %s' % e)
    plpy.notice(plpy.quote_literal('x'), plpy.quote_ident('A'))
$$;
SELECT g_fin_levels(5) LIMIT 1;
BEGIN;
SELECT g_fin_levels(2) LIMIT 1;
ROLLBACK;
CREATE FUNCTION g_fin_sql(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
finally:
    try:
        plpy.execute('INSERT INTO log VALUES (%d)' % n)
    except plpy.SPIError as e:
        plpy.notice('%s: %s (%s)' % (type(e).__name__, e, e.sqlstate))
$$;
SELECT g_fin_sql(5) LIMIT 2;
SELECT * FROM g_fin_sql(3);
SELECT n FROM log;
CREATE FUNCTION g_fin_raise(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
finally:
    raise ValueError('in finally')
$$;
SELECT g_fin_raise(5) LIMIT 1;
SELECT * FROM g_fin_raise(2);
SELECT 'alive';
DROP SCHEMA srf1 CASCADE;
