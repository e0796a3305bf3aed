-- The attributes of a raised plpy.Error that PL/Python reads as strings (plpy_elog.c PLy_get_error_data:
-- a present sqlstate, and detail, hint, schema_name … unless None; plpy.SPIError's sqlstate when it has no
-- spidata): anything but a str there makes PLyUnicode_AsString fail while the error is reported, so the
-- error becomes "could not convert Python Unicode object to bytes" (SQLSTATE 38000) with the TypeError as
-- detail. str subclasses are strings. Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
\set VERBOSITY sqlstate
DO $$
e = plpy.Error('int detail')
e.detail = 5
raise e
$$ LANGUAGE plpython3u;
\set VERBOSITY default
DO $$
e = plpy.Error('int detail')
e.detail = 5
raise e
$$ LANGUAGE plpython3u;
DO $$
e = plpy.Error('list hint')
e.hint = ['h']
raise e
$$ LANGUAGE plpython3u;
CREATE FUNCTION err_attr(attr text, kind text) RETURNS int LANGUAGE plpython3u AS $$
class S(str):
    pass
values = {'int': 5, 'none': None, 'bytes': b'x', 'str': 'text', 'strsub': S('sub'), 'bool': True}
e = plpy.Error('attr %s=%s' % (attr, kind))
setattr(e, attr, values[kind])
raise e
$$;
\set VERBOSITY sqlstate
SELECT err_attr('sqlstate', 'int');
SELECT err_attr('sqlstate', 'none');
SELECT err_attr('sqlstate', 'bytes');
SELECT err_attr('sqlstate', 'strsub');
\set VERBOSITY default
SELECT err_attr('sqlstate', 'int');
SELECT err_attr('sqlstate', 'none');
SELECT err_attr('sqlstate', 'str');
SELECT err_attr('detail', 'none');
SELECT err_attr('detail', 'bytes');
SELECT err_attr('detail', 'strsub');
SELECT err_attr('hint', 'bool');
SELECT err_attr('schema_name', 'int');
SELECT err_attr('table_name', 'int');
SELECT err_attr('column_name', 'int');
SELECT err_attr('datatype_name', 'int');
SELECT err_attr('constraint_name', 'int');
SELECT err_attr('query', 'int');
SELECT err_attr('other', 'int');
-- plpy.error's own keywords are str()'d before (PLy_output), the raised error's fields are strings
DO $$ plpy.error('kw', detail=5, hint=['h']) $$ LANGUAGE plpython3u;
DO $$
try:
    plpy.error('kw', detail=5)
except plpy.Error as e:
    e.hint = 7
    raise
$$ LANGUAGE plpython3u;
-- a subclass of plpy.Error is read the same way; other exceptions' attributes are not read
DO $$
class MyErr(plpy.Error):
    detail = 5
raise MyErr('subclass')
$$ LANGUAGE plpython3u;
DO $$
e = ValueError('plain')
e.detail = 5
e.sqlstate = 5
raise e
$$ LANGUAGE plpython3u;
-- plpy.SPIError: sqlstate is read only when there is no spidata
DO $$
e = plpy.SPIError('spi')
e.sqlstate = 5
raise e
$$ LANGUAGE plpython3u;
DO $$
e = plpy.SPIError('spi')
e.sqlstate = 5
e.detail = 5
e.spidata = (0, 'spi detail', None, None, 0, None, None, None, None, None)
raise e
$$ LANGUAGE plpython3u;
DO $$
try:
    plpy.execute('select 1/0')
except plpy.SPIError as e:
    e.sqlstate = 5
    raise
$$ LANGUAGE plpython3u;
DO $$
e = plpy.spiexceptions.DivisionByZero('class sqlstate')
raise e
$$ LANGUAGE plpython3u;
CREATE FUNCTION err_in_srf() RETURNS SETOF int LANGUAGE plpython3u AS $$
yield 1
e = plpy.Error('in srf')
e.detail = 5
raise e
$$;
SELECT * FROM err_in_srf();
CREATE TABLE t (a int);
CREATE FUNCTION err_in_trig() RETURNS trigger LANGUAGE plpython3u AS $$
e = plpy.Error('in trigger')
e.table_name = 5
raise e
$$;
CREATE TRIGGER err_in_trig BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION err_in_trig();
INSERT INTO t VALUES (1);
CREATE FUNCTION caller() RETURNS text LANGUAGE plpython3u AS $$
try:
    plpy.execute("SELECT err_attr('detail', 'int')")
except plpy.SPIError as e:
    return '%s: %s / %s' % (type(e).__name__, e, e.spidata[1])
$$;
SELECT caller();
DROP TABLE t;
DROP FUNCTION err_attr(text, text), err_in_srf(), err_in_trig(), caller();
