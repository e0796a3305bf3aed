-- The conversion of a function's result runs in the function's execution context (plpy_exec.c
-- PLy_exec_function), so Python code it runs — a __str__, a __bytes__, a __len__, a __del__ — may use
-- plpy's messages: for scalar, composite, array, set-returning, OUT and INOUT results, and a trigger's
-- MODIFY. (SPI there, or a __str__ that raises, crashes PostgreSQL 15, whose SPI is already finished.)
-- Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
DROP SCHEMA IF EXISTS edge7 CASCADE;
CREATE SCHEMA edge7;
SET search_path = edge7, public;
RESET client_min_messages;
CREATE TYPE ab AS (a int, b text);
CREATE FUNCTION conv_scalar() RETURNS int LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        plpy.notice('in __str__')
        return '5'
return X()
$$;
SELECT conv_scalar();
CREATE FUNCTION conv_row() RETURNS ab LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        plpy.info('row field', detail='d')
        return 'x'
return {'a': 1, 'b': X()}
$$;
SELECT conv_row();
CREATE FUNCTION conv_arr() RETURNS text[] LANGUAGE plpython3u AS $$
class X:
    def __init__(self, k): self.k = k
    def __str__(self):
        plpy.warning('element %d' % self.k)
        return 'e%d' % self.k
return [X(1), [X(2)][0], None]
$$;
SELECT conv_arr();
CREATE FUNCTION conv_seq() RETURNS int[] LANGUAGE plpython3u AS $$
class S:
    def __len__(self):
        plpy.notice('__len__')
        return 2
    def __getitem__(self, i):
        plpy.notice('__getitem__ %d' % i)
        if i > 1:
            raise IndexError(i)
        return i
return S()
$$;
SELECT conv_seq();
CREATE FUNCTION conv_srf() RETURNS SETOF text LANGUAGE plpython3u AS $$
class X:
    def __init__(self, k): self.k = k
    def __str__(self):
        plpy.notice('converting %d' % self.k)
        return 'v%d' % self.k
for k in range(3):
    yield X(k)
$$;
SELECT conv_srf();
SELECT * FROM conv_srf();
CREATE FUNCTION conv_bytea() RETURNS bytea LANGUAGE plpython3u AS $$
class X:
    def __bytes__(self):
        plpy.notice('in __bytes__')
        return b'xy'
return X()
$$;
SELECT conv_bytea();
CREATE FUNCTION conv_out(OUT a int, OUT b text) LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        plpy.notice('OUT __str__')
        return 'out'
return (1, X())
$$;
SELECT * FROM conv_out();
CREATE PROCEDURE conv_proc(INOUT a text) LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        plpy.notice('INOUT __str__')
        return 'inout'
return [X()]
$$;
CALL conv_proc(NULL);
CREATE FUNCTION conv_caught() RETURNS int LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        try:
            plpy.error('caught in __str__')
        except plpy.Error as e:
            plpy.notice('%s: %s' % (type(e).__name__, e))
        return '9'
return X()
$$;
SELECT conv_caught();
CREATE FUNCTION conv_quote() RETURNS text LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        return plpy.quote_literal("it's") + plpy.quote_ident('Q')
return X()
$$;
SELECT conv_quote();
-- a trigger's MODIFY converts TD["new"] in the trigger's execution context too
CREATE TABLE t (a int, b text);
CREATE FUNCTION tmod() RETURNS trigger LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        plpy.notice('modify __str__ %s' % TD['new']['a'])
        return 'modified'
TD['new']['b'] = X()
return 'MODIFY'
$$;
CREATE TRIGGER tmod BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION tmod();
INSERT INTO t VALUES (1, 'x'), (2, 'y') RETURNING *;
UPDATE t SET a = a + 10 RETURNING *;
-- the returned object is dropped, and the previous call's TD replaced, in the execution context too: a
-- __del__ there may report messages
CREATE FUNCTION ret_del() RETURNS int LANGUAGE plpython3u AS $$
class X(int):
    def __del__(self):
        plpy.notice('returned object __del__')
return X(5)
$$;
SELECT ret_del();
CREATE FUNCTION ret_del_str() RETURNS text LANGUAGE plpython3u AS $$
class X:
    def __str__(self):
        return 'x'
    def __del__(self):
        plpy.notice('returned object __del__ after __str__')
return X()
$$;
SELECT ret_del_str();
CREATE FUNCTION srf_del() RETURNS SETOF int LANGUAGE plpython3u AS $$
class X(int):
    def __del__(self):
        plpy.notice('item __del__ %d' % self)
return [X(1), X(2)]
$$;
SELECT srf_del();
CREATE PROCEDURE proc_del(INOUT a int) LANGUAGE plpython3u AS $$
class X(int):
    def __del__(self):
        plpy.notice('INOUT value __del__')
return [X(3)]
$$;
CALL proc_del(1);
CREATE TABLE td (a int);
CREATE FUNCTION td_del() RETURNS trigger LANGUAGE plpython3u AS $$
class X:
    def __init__(self, n): self.n = n
    def __del__(self):
        plpy.notice('TD of row %d __del__' % self.n)
TD['extra'] = X(TD['new']['a'])
$$;
CREATE TRIGGER td_del BEFORE INSERT ON td FOR EACH ROW EXECUTE FUNCTION td_del();
INSERT INTO td VALUES (1), (2);
INSERT INTO td VALUES (3);
-- so are a DO block's variables, a global, an SD value or an argument name the body rebound (replaced
-- at the next call), and the locals an error's traceback holds (dropped before the error is reported)
DO $$
class X:
    def __del__(self):
        plpy.notice('DO local __del__')
x = X()
$$ LANGUAGE plpython3u;
CREATE FUNCTION glob_del(n int) RETURNS int LANGUAGE plpython3u AS $$
class X:
    def __init__(self, n): self.n = n
    def __del__(self):
        plpy.notice('global of call %d __del__' % self.n)
global gx
gx = X(n)
SD['x'] = X(n + 100)
return n
$$;
SELECT glob_del(1);
SELECT glob_del(2);
CREATE FUNCTION arg_rebind(a int) RETURNS int LANGUAGE plpython3u AS $$
class X:
    def __init__(self, n): self.n = n
    def __del__(self):
        plpy.notice('rebound argument %d __del__' % self.n)
global a
a = X(a)
return 1
$$;
SELECT arg_rebind(1);
SELECT arg_rebind(2);
CREATE FUNCTION exc_del() RETURNS int LANGUAGE plpython3u AS $$
class X:
    def __del__(self):
        plpy.notice('held by the traceback __del__')
def f():
    x = X()
    raise ValueError('boom')
f()
$$;
SELECT exc_del();
DROP SCHEMA edge7 CASCADE;
