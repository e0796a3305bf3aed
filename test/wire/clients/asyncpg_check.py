"""asyncpg (Debian python3-asyncpg) against a server; prints one JSON object with what it saw (values as
repr(), so types show). Run against pyglite and against PostgreSQL 15: the two must print the same."""
import asyncio
import datetime
import decimal
import json
import sys
import uuid

import asyncpg


async def main(dsn):
    out = {}
    c = await asyncpg.connect(dsn)
    # asyncpg binds with the extended protocol, binary formats, and its own statement cache
    out["select"] = await c.fetchval("SELECT 1 + $1::int", 41)
    await c.execute(
        "DROP TABLE IF EXISTS apg_t; CREATE TABLE apg_t (id serial PRIMARY KEY, n numeric, j jsonb, a int[], "
        "ts timestamptz, u uuid, b bytea, t text)"
    )
    await c.execute(
        "INSERT INTO apg_t (n, j, a, ts, u, b, t) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        decimal.Decimal("1.50"),
        '{"k": [1, 2]}',
        [1, 2, 3],
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        uuid.UUID(int=7),
        b"\x00\xff",
        "h\u00e9llo",
    )
    out["row"] = repr(tuple(await c.fetchrow("SELECT n, j, a, ts, u, b, t FROM apg_t")))
    await c.executemany("INSERT INTO apg_t (t) VALUES ($1)", [(f"x{i}",) for i in range(5)])
    out["count"] = await c.fetchval("SELECT count(*) FROM apg_t")
    # COPY FROM STDIN in binary format
    await c.copy_records_to_table(
        "apg_t", records=[(100, decimal.Decimal("2"), None, [4], None, None, None, "copied")],
        columns=["id", "n", "j", "a", "ts", "u", "b", "t"],
    )
    out["copied"] = repr(tuple(await c.fetchrow("SELECT n, a, t FROM apg_t WHERE id = 100")))
    async with c.transaction():
        stmt = await c.prepare("SELECT id, t FROM apg_t WHERE id > $1 ORDER BY id")
        out["cursor"] = [list(r) async for r in stmt.cursor(1, prefetch=2)]
        out["described"] = [[p.name for p in stmt.get_parameters()], [(a.name, a.type.name) for a in stmt.get_attributes()]]
    try:
        await c.execute("SELECT 1/0")
    except asyncpg.PostgresError as e:
        out["error"] = [type(e).__name__, e.sqlstate, e.message]
    # types asyncpg introspects with its own catalog queries
    await c.execute("DROP TYPE IF EXISTS apg_mood CASCADE; CREATE TYPE apg_mood AS ENUM ('sad', 'happy')")
    await c.execute("DROP TYPE IF EXISTS apg_pair CASCADE; CREATE TYPE apg_pair AS (x int, y text)")
    await c.execute("DROP DOMAIN IF EXISTS apg_pos; CREATE DOMAIN apg_pos AS int CHECK (VALUE > 0)")
    out["introspected"] = [
        await c.fetchval("SELECT 'happy'::apg_mood"),
        repr(tuple(await c.fetchval("SELECT ROW(1, 'a')::apg_pair"))),
        await c.fetchval("SELECT ARRAY['sad', 'happy']::apg_mood[]"),
        await c.fetchval("SELECT $1::apg_pos", 5),
    ]
    await c.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
    await c.execute("CREATE OR REPLACE FUNCTION apg_py(x int) RETURNS int LANGUAGE plpython3u AS $$ return x * 2 $$")
    out["plpython"] = await c.fetchval("SELECT apg_py($1)", 21)
    await c.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    out["codec"] = await c.fetchval("SELECT $1::jsonb", {"a": [1, None]})
    got = asyncio.get_running_loop().create_future()
    await c.add_listener("apg_chan", lambda _c, _pid, _chan, payload: got.set_result(payload))
    c2 = await asyncpg.connect(dsn)
    await c2.execute("NOTIFY apg_chan, 'hello'")
    out["notify"] = await asyncio.wait_for(got, 10)
    # a timeout sends a CancelRequest; the connection stays usable
    try:
        await c2.execute("SELECT pg_sleep(10)", timeout=0.5)
        out["timeout"] = "not cancelled"
    except asyncio.TimeoutError:
        out["timeout"] = "cancelled"
    out["after_cancel"] = await c2.fetchval("SELECT 2")
    await c2.close()
    await c.execute("DROP TABLE apg_t; DROP TYPE apg_mood; DROP TYPE apg_pair; DROP DOMAIN apg_pos")
    await c.close()
    print(json.dumps(out))


asyncio.run(main(sys.argv[1]))
