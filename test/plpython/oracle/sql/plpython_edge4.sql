-- Argument handling of plpy.prepare/plpy.cursor (METH_VARARGS: no keywords; the argument types must be a
-- sequence, None is not one: plpy_spi.c PLy_spi_prepare) and of PLyResult.nrows/status and PLyPlan.status
-- (METH_VARARGS: extra arguments ignored), and the names a procedure's globals start with. Expected output
-- recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
DO $$
tries = [
    ("prepare(q, None)", lambda: plpy.prepare("SELECT 1", None)),
    ("prepare(q, [])", lambda: plpy.prepare("SELECT 1", [])),
    ("prepare(q, {})", lambda: plpy.prepare("SELECT 1", {})),
    ("prepare(query=q)", lambda: plpy.prepare(query="SELECT 1")),
    ("cursor(query=q)", lambda: plpy.cursor(query="SELECT 1")),
]
for name, f in tries:
    try:
        f()
        plpy.notice("%s: no error" % name)
    except Exception as e:
        plpy.notice("%s: %s: %s" % (name, type(e).__name__, e))
r = plpy.execute("SELECT 1 AS a")
plpy.notice("nrows %s status %s" % (r.nrows(5), r.status(1, 2)))
p = plpy.prepare("SELECT 1")
plpy.notice("plan status %s" % p.status("x"))
$$ LANGUAGE plpython3u;
-- a procedure's globals start as a copy of __main__'s dict (PLy_procedure_compile): the module's own names
DO $$
plpy.notice(repr(sorted((k, type(v).__name__) for k, v in globals().items() if k.startswith('__'))))
$$ LANGUAGE plpython3u;
CREATE FUNCTION edge4_globals() RETURNS text LANGUAGE plpython3u AS $$
return repr(sorted(k for k in globals() if not k.startswith('__plpython')))
$$;
SELECT edge4_globals();
DROP FUNCTION edge4_globals();
-- limits: PyArg_ParseTuple's "l" (a 64-bit long where PostgreSQL runs); plpy.execute's failed parses end in
-- "expected a query or a plan", plan.execute's raise the parse's own TypeError/OverflowError
DO $$
p = plpy.prepare("SELECT g FROM generate_series(1, 3) g")
calls = [
    ("plpy.execute(q, %r)", lambda lim: plpy.execute("SELECT g FROM generate_series(1, 3) g", lim)),
    ("plpy.execute(plan, [], %r)", lambda lim: plpy.execute(p, [], lim)),
    ("plan.execute([], %r)", lambda lim: p.execute([], lim)),
]
for lim in (2**63, 2**63 - 1, -2**63 - 1, 2, 0, -1, "x", 1.5, None, True):
    for name, f in calls:
        try:
            plpy.notice("%s: %d rows" % (name % (lim,), f(lim).nrows()))
        except Exception as e:
            plpy.notice("%s: %s: %s" % (name % (lim,), type(e).__name__, e))
$$ LANGUAGE plpython3u;
