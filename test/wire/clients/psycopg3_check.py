"""psycopg 3 (Debian python3-psycopg) against pyglite; prints one JSON object with what it saw."""
import datetime
import decimal
import json
import sys

import psycopg

out = {}
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    out["info"] = [conn.info.server_version, conn.info.encoding, conn.info.parameter_status("integer_datetimes")]
    conn.execute("CREATE TABLE pg3_t(id int primary key, ts timestamp, n numeric, t text)")
    # server-side prepared statements (prepare=True: Parse once, then Bind/Execute), binary results
    for i in range(6):
        conn.execute(
            "INSERT INTO pg3_t VALUES (%s, %s, %s, %s)",
            (i, datetime.datetime(2020, 5, 17, 12, 0, i), decimal.Decimal(i) / 4, f"r{i}"),
            prepare=True,
        )
    with conn.cursor(binary=True) as cur:
        for _ in range(6):
            cur.execute("SELECT ts, n, t FROM pg3_t WHERE id = %s", (5,), prepare=True)
        ts, n, t = cur.fetchone()
        out["binary"] = [ts.isoformat(), str(n), t]
    # pipeline mode: several statements sent before any result is read
    with conn.pipeline():
        c1 = conn.execute("SELECT count(*) FROM pg3_t")
        c2 = conn.execute("SELECT sum(n) FROM pg3_t")
        c3 = conn.execute("SELECT max(t) FROM pg3_t")
    out["pipeline"] = [c1.fetchone()[0], str(c2.fetchone()[0]), c3.fetchone()[0]]
    # COPY both ways
    with conn.cursor() as cur:
        with cur.copy("COPY pg3_t (id, t) FROM STDIN") as copy:
            for i in range(100, 1100):
                copy.write_row((i, f"copied {i}"))
        out["copied"] = conn.execute("SELECT count(*) FROM pg3_t WHERE id >= 100").fetchone()[0]
        lines = []
        with cur.copy("COPY (SELECT id, t FROM pg3_t WHERE id BETWEEN 100 AND 102 ORDER BY id) TO STDOUT") as copy:
            for row in copy.rows():
                lines.append(list(row))
        out["copy_out"] = lines
    # a transaction with a server-side (named) cursor
    with conn.transaction():
        with conn.cursor(name="big") as cur:
            cur.itersize = 100
            cur.execute("SELECT id FROM pg3_t ORDER BY id")
            out["named_cursor"] = sum(1 for _ in cur)
    notices = []
    conn.add_notice_handler(lambda d: notices.append([d.severity, d.message_primary]))
    conn.execute("DO $$ BEGIN RAISE WARNING 'careful'; END $$")
    out["notices"] = notices
    try:
        conn.execute("INSERT INTO pg3_t(id) VALUES (1)")
    except psycopg.errors.UniqueViolation as e:
        out["unique"] = [e.sqlstate, e.diag.constraint_name]
print(json.dumps(out))
