-- plpy API misuse and other run-time error paths: bad arguments to execute/prepare/cursor/quote,
-- Python recursion, exceptions with odd str(), errors inside nested subtransactions and from
-- plpy.error inside SQL called by Python; checked against PostgreSQL 15 + plpython3u (expected output
-- recorded there). Left out: plpy.cursor(query_string, args), where PostgreSQL reads the string as a plan
-- (undefined; pyglite raises plpy.Error "plpy.cursor expected a query or a plan").
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS errors5 CASCADE;
CREATE SCHEMA errors5;
SET search_path = errors5, public;
SET client_min_messages = notice;
CREATE FUNCTION m_execute_int() RETURNS void AS $$ plpy.execute(42) $$ LANGUAGE plpython3u;
SELECT m_execute_int();
CREATE FUNCTION m_execute_limit() RETURNS void AS $$ plpy.execute('select 1', 'x') $$ LANGUAGE plpython3u;
SELECT m_execute_limit();
CREATE FUNCTION m_prepare_types() RETURNS void AS $$ plpy.prepare('select $1', [42]) $$ LANGUAGE plpython3u;
SELECT m_prepare_types();
CREATE FUNCTION m_prepare_notlist() RETURNS void AS $$ plpy.prepare('select $1', 'int4') $$ LANGUAGE plpython3u;
SELECT m_prepare_notlist();
CREATE FUNCTION m_quote() RETURNS text AS $$ return plpy.quote_literal(None) $$ LANGUAGE plpython3u;
SELECT m_quote();
CREATE FUNCTION m_quote_ident() RETURNS text AS $$ return plpy.quote_ident(5) $$ LANGUAGE plpython3u;
SELECT m_quote_ident();
CREATE FUNCTION m_notice_kw() RETURNS void AS $$ plpy.notice('x', detail=1, hint=2) $$ LANGUAGE plpython3u;
SELECT m_notice_kw();
CREATE FUNCTION m_error_twice() RETURNS void AS $$ plpy.error('a', 'b', detail='d') $$ LANGUAGE plpython3u;
SELECT m_error_twice();
CREATE FUNCTION m_recursion(n int) RETURNS int AS $$
def f(k):
    return f(k + 1)
return f(0)
$$ LANGUAGE plpython3u;
SELECT m_recursion(1);
CREATE FUNCTION m_depth() RETURNS int AS $$
def f(k):
    try:
        return f(k + 1)
    except RecursionError:
        return k
return f(0)
$$ LANGUAGE plpython3u;
SELECT m_depth();
CREATE TABLE rt (a int);
CREATE FUNCTION m_trig_depth() RETURNS trigger AS $$
def f(k):
    try:
        return f(k + 1)
    except RecursionError:
        return k
plpy.notice(f(0))
$$ LANGUAGE plpython3u;
CREATE TRIGGER m_trig_depth BEFORE INSERT ON rt FOR EACH ROW EXECUTE FUNCTION m_trig_depth();
INSERT INTO rt VALUES (1);
CREATE FUNCTION m_exc_noargs() RETURNS void AS $$ raise ValueError $$ LANGUAGE plpython3u;
SELECT m_exc_noargs();
CREATE FUNCTION m_exc_custom() RETURNS void AS $$
class MyErr(Exception):
    pass
raise MyErr('mine')
$$ LANGUAGE plpython3u;
SELECT m_exc_custom();
CREATE FUNCTION m_exc_chained() RETURNS void AS $$
try:
    1/0
except ZeroDivisionError as e:
    raise KeyError('k') from e
$$ LANGUAGE plpython3u;
SELECT m_exc_chained();
CREATE FUNCTION m_spierror_attrs() RETURNS text AS $$
try:
    plpy.execute("select 'x'::int")
except plpy.SPIError as e:
    return '%s|%s|%s|%s' % (e.sqlstate, e.spidata[1], e.spidata[2], type(e).__name__)
$$ LANGUAGE plpython3u;
SELECT m_spierror_attrs();
CREATE FUNCTION m_nested_subxact() RETURNS text AS $$
out = []
with plpy.subtransaction():
    try:
        with plpy.subtransaction():
            plpy.execute('select 1/0')
    except plpy.SPIError as e:
        out.append(str(e))
    out.append(str(plpy.execute('select 2 as x')[0]['x']))
return ','.join(out)
$$ LANGUAGE plpython3u;
SELECT m_nested_subxact();
CREATE FUNCTION m_plpy_error_in_sql() RETURNS text AS $$
try:
    plpy.execute("DO $x$ plpy.error('from inner', hint='h') $x$ LANGUAGE plpython3u")
except plpy.SPIError as e:
    return '%s / %s / %s' % (type(e).__name__, e, e.spidata[2])
$$ LANGUAGE plpython3u;
SELECT m_plpy_error_in_sql();
CREATE FUNCTION m_raise_spierror() RETURNS void AS $$ raise plpy.SPIError('plain spi error') $$ LANGUAGE plpython3u;
SELECT m_raise_spierror();
CREATE FUNCTION m_result_bad_index() RETURNS void AS $$
r = plpy.execute('select 1 as a')
r[3]
$$ LANGUAGE plpython3u;
SELECT m_result_bad_index();
CREATE FUNCTION m_result_colnames() RETURNS text AS $$
r = plpy.execute('create temp table tt (a int)')
return repr(r.colnames())
$$ LANGUAGE plpython3u;
SELECT m_result_colnames();
CREATE FUNCTION m_fetch_after_xact() RETURNS void AS $$
c = plpy.cursor('select generate_series(1, 3)')
c.close()
c.close()
$$ LANGUAGE plpython3u;
SELECT m_fetch_after_xact();
DROP SCHEMA errors5 CASCADE;
