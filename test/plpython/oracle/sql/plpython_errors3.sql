-- statement_timeout firing inside a plpy call: what Python can catch (plpy.spiexceptions.QueryCanceled,
-- as PostgreSQL lets it), what reaches the client when it does not, and that the session goes on;
-- checked against PostgreSQL 15 + plpython3u (expected output recorded there).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS errors3 CASCADE;
CREATE SCHEMA errors3;
SET search_path = errors3, public;
SET client_min_messages = notice;
CREATE TABLE log (n int);
CREATE FUNCTION t_uncaught() RETURNS void AS $$ plpy.execute('select pg_sleep(5)') $$ LANGUAGE plpython3u;
CREATE FUNCTION t_caught() RETURNS text AS $$
try:
    plpy.execute('select pg_sleep(5)')
except plpy.spiexceptions.QueryCanceled as e:
    return 'caught %s %s: %s' % (type(e).__name__, e.sqlstate, e)
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_caught_spierror() RETURNS text AS $$
try:
    plpy.execute('select pg_sleep(5)')
except plpy.SPIError as e:
    return 'SPIError %s' % e.sqlstate
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_caught_then_query() RETURNS int AS $$
try:
    plpy.execute('select pg_sleep(5)')
except plpy.spiexceptions.QueryCanceled:
    pass
plpy.execute('insert into log values (1)')
return plpy.execute('select count(*)::int as n from log')[0]['n']
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_in_subxact() RETURNS text AS $$
try:
    with plpy.subtransaction():
        plpy.execute('insert into log values (2)')
        plpy.execute('select pg_sleep(5)')
except plpy.SPIError as e:
    return '%s %s' % (type(e).__name__, e)
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_cursor() RETURNS text AS $$
try:
    for r in plpy.cursor('select pg_sleep(5) from generate_series(1, 3)'):
        pass
except plpy.spiexceptions.QueryCanceled as e:
    return 'cursor %s' % e
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_prepared() RETURNS text AS $$
p = plpy.prepare('select pg_sleep($1)', ['float8'])
try:
    plpy.execute(p, [5])
except plpy.spiexceptions.QueryCanceled as e:
    return 'plan %s' % e
$$ LANGUAGE plpython3u;
CREATE FUNCTION t_srf() RETURNS SETOF int AS $$
yield 1
plpy.execute('select pg_sleep(5)')
yield 2
$$ LANGUAGE plpython3u;
CREATE PROCEDURE t_proc() AS $$
plpy.execute('insert into log values (3)')
plpy.commit()
plpy.execute('select pg_sleep(5)')
$$ LANGUAGE plpython3u;
SET statement_timeout = '300ms';
SELECT t_uncaught();
SELECT t_caught();
SELECT t_caught_spierror();
SELECT t_caught_then_query();
SELECT t_in_subxact();
SELECT t_cursor();
SELECT t_prepared();
SELECT * FROM t_srf();
CALL t_proc();
DO $$ plpy.execute('select pg_sleep(5)') $$ LANGUAGE plpython3u;
RESET statement_timeout;
SELECT n FROM log ORDER BY n;
SELECT 'session goes on' AS after;
DROP SCHEMA errors3 CASCADE;
