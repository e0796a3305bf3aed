-- Checked against PostgreSQL 15 + plpython3u (Debian); expected output recorded there.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS edge2 CASCADE;
CREATE SCHEMA edge2;
SET search_path = edge2, public;
SET client_min_messages = notice;
CREATE FUNCTION tb_nested() RETURNS int LANGUAGE plpython3u AS $$
def a():
    return b()
def b():
    return {}['missing']
return a()
$$;
SELECT tb_nested();
CREATE FUNCTION tb_import() RETURNS int LANGUAGE plpython3u AS $$
import json
return json.loads('{')
$$;
SELECT tb_import();
CREATE FUNCTION tb_gen() RETURNS SETOF int LANGUAGE plpython3u AS $$
def inner():
    yield 1
    raise KeyError('k')
return inner()
$$;
SELECT * FROM tb_gen();
CREATE FUNCTION tb_iter_next() RETURNS SETOF int LANGUAGE plpython3u AS $$
class It:
    def __iter__(self): return self
    def __next__(self): raise ValueError('nxt')
return It()
$$;
SELECT * FROM tb_iter_next();
CREATE FUNCTION tb_iter_iter() RETURNS SETOF int LANGUAGE plpython3u AS $$
class It:
    def __iter__(self): raise ValueError('no iter')
return It()
$$;
SELECT * FROM tb_iter_iter();
DO $$
def f():
    raise ValueError('in DO')
f()
$$ LANGUAGE plpython3u;
CREATE FUNCTION plpy_err() RETURNS int LANGUAGE plpython3u AS $$
plpy.error('custom', detail='det', hint='hnt', sqlstate='P0123')
$$;
SELECT plpy_err();
CREATE FUNCTION spi_err() RETURNS int LANGUAGE plpython3u AS $$
plpy.execute('SELECT 1/0')
$$;
SELECT spi_err();
CREATE FUNCTION spi_caught() RETURNS text LANGUAGE plpython3u AS $$
try:
    plpy.execute('SELECT 1/0')
except plpy.SPIError as e:
    return '%s %s' % (type(e).__name__, e.sqlstate)
$$;
SELECT spi_caught();
CREATE FUNCTION notice_ctx() RETURNS int LANGUAGE plpython3u AS $$
plpy.notice('hi')
return 1
$$;
\set SHOW_CONTEXT always
SELECT notice_ctx();
CREATE FUNCTION nested_notice() RETURNS int LANGUAGE plpython3u AS $$
return plpy.execute('SELECT notice_ctx() AS x')[0]['x']
$$;
SELECT nested_notice();
\set SHOW_CONTEXT errors
CREATE FUNCTION syntax1() RETURNS int LANGUAGE plpython3u AS $$
def f(:
  pass
$$;
CREATE FUNCTION indent_err() RETURNS int LANGUAGE plpython3u AS $$
if True:
return 1
$$;
CREATE FUNCTION tab_body() RETURNS int LANGUAGE plpython3u AS E'\n\tx = 1\n\treturn x';
SELECT tab_body();
CREATE FUNCTION crlf_body() RETURNS int LANGUAGE plpython3u AS E'x = 2\r\nreturn x\r\n';
SELECT crlf_body();
