"""psycopg2 (Debian python3-psycopg2) against pyglite; prints one JSON object with what it saw."""
import datetime
import decimal
import json
import sys

import psycopg2
import psycopg2.extras

out = {}
conn = psycopg2.connect(sys.argv[1])
out["encoding"] = conn.encoding
out["server_version"] = conn.server_version
cur = conn.cursor()
cur.execute("CREATE TABLE pg2_t(id serial primary key, ts timestamptz, d date, n numeric, b bytea, j jsonb, a int[])")
cur.execute(
    "INSERT INTO pg2_t(ts, d, n, b, j, a) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
    (
        datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
        datetime.date(1999, 12, 31),
        decimal.Decimal("3.14159265358979323846"),
        psycopg2.Binary(b"\x00\x01\xffbytes"),
        json.dumps({"k": [1, 2, None]}),
        [1, 2, 3],
    ),
)
out["id"] = cur.fetchone()[0]
conn.commit()
cur.execute("SELECT ts, d, n, b, j, a FROM pg2_t")
ts, d, n, b, j, a = cur.fetchone()
out["row"] = [ts.isoformat(), d.isoformat(), str(n), bytes(b).hex(), j, a]
try:
    cur.execute("SELECT * FROM no_such_table")
except psycopg2.Error as e:
    out["error"] = [e.pgcode, e.diag.message_primary]
conn.rollback()
cur.execute("DO $$ BEGIN RAISE NOTICE 'note %', 7; END $$")
out["notices"] = [x.strip() for x in conn.notices]
cur.execute("SET TIME ZONE 'Asia/Tokyo'")
cur.execute("SELECT '2024-01-02 03:04:05+00'::timestamptz")
out["tokyo"] = cur.fetchone()[0].isoformat()
conn.rollback()
dc = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
dc.execute("SELECT 1 AS one, 'two' AS two")
out["dict"] = dict(dc.fetchone())
conn.rollback()
conn.autocommit = True
cur.execute("SELECT pg_catalog.current_setting('application_name')")
out["appname"] = cur.fetchone()[0]
conn.close()
print(json.dumps(out))
