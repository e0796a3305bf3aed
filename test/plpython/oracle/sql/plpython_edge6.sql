-- Query texts and type names that do not encode (a lone surrogate): PyArg_ParseTuple's "s" refuses such a
-- query, so plpy.execute(query) ends in "plpy.execute expected a query or a plan" (plpy_spi.c
-- PLy_spi_execute); plpy.prepare's type names are converted one by one inside its PG_TRY, so one that
-- does not encode is an SPI error with the codec's error as detail, after the errors of names before it.
-- Expected output recorded on PostgreSQL 15 + plpython3u.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plpython3u;
RESET client_min_messages;
DO $$
tries = [
    ("execute(q)", lambda: plpy.execute("SELECT '\ud800'")),
    ("execute(q, 5)", lambda: plpy.execute("SELECT '\ud800' AS x", 5)),
    ("execute(q, 'x')", lambda: plpy.execute("SELECT '\ud800' AS x", 'x')),
    ("prepare(q)", lambda: plpy.prepare("SELECT '\ud800'")),
    ("prepare(q, [surrogate])", lambda: plpy.prepare("SELECT $1", ["te\udc80xt"])),
    ("prepare(q, [int, surrogate])", lambda: plpy.prepare("SELECT $1, $2", ["int", "\udc80"])),
    ("prepare(q, [nosuchtype, surrogate])", lambda: plpy.prepare("SELECT $1, $2", ["nosuchtype", "\udc80"])),
    ("prepare(q, [5, surrogate])", lambda: plpy.prepare("SELECT $1, $2", [5, "\udc80"])),
    ("prepare(q, [surrogate, 5])", lambda: plpy.prepare("SELECT $1, $2", ["\udc80", 5])),
    ("plan text arg", lambda: plpy.execute(plpy.prepare("SELECT $1::text AS x", ["text"]), ["\ud800"])),
    ("plan int arg", lambda: plpy.execute(plpy.prepare("SELECT $1 AS x", ["int"]), ["\ud800"])),
    ("plan array arg", lambda: plpy.execute(plpy.prepare("SELECT $1 AS x", ["text[]"]), [["a", "\ud800"]])),
    ("quote_literal", lambda: plpy.quote_literal("\ud800")),
    ("quote_nullable", lambda: plpy.quote_nullable("\ud800")),
    ("quote_ident", lambda: plpy.quote_ident("\ud800")),
]
for name, f in tries:
    try:
        r = f()
        plpy.notice("%s: no error, %s" % (name, type(r).__name__))
    except plpy.SPIError as e:
        plpy.notice("%s: %s: %s / %s" % (name, type(e).__name__, e, e.spidata[1]))
    except Exception as e:
        plpy.notice("%s: %s: %s" % (name, type(e).__name__, e))
plpy.notice(plpy.execute("SELECT 'still fine' AS x")[0]["x"])
$$ LANGUAGE plpython3u;
SELECT 'after' AS x;
