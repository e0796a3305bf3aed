# psycopg 3 against pyglite: conn.cancel() from another thread stops SQL, a Python loop and a Python sleep
# within a second (57014), the connection goes on; statement_timeout does the same with its own message.
import json
import sys
import threading
import time

import psycopg

url = sys.argv[1]
out = {}
with psycopg.connect(url, autocommit=True) as conn:
    for name, sql in [
        ("pg_sleep", "SELECT pg_sleep(60)"),
        ("py_loop", "SELECT py_loop()"),
        ("py_sleep", "SELECT py_sleep()"),
    ]:
        timer = threading.Timer(0.5, conn.cancel)
        t0 = time.monotonic()
        timer.start()
        try:
            conn.execute(sql)
            out[name] = ["no error"]
        except psycopg.errors.QueryCanceled as e:
            out[name] = [e.sqlstate, e.diag.message_primary, round(time.monotonic() - t0 - 0.5, 3)]
        out[name + "_after"] = conn.execute("SELECT 40 + 2").fetchone()[0]
    conn.execute("SET statement_timeout = '300ms'")
    try:
        conn.execute("SELECT py_loop()")
    except psycopg.errors.QueryCanceled as e:
        out["timeout"] = [e.sqlstate, e.diag.message_primary]
    conn.execute("RESET statement_timeout")
    out["timeout_after"] = conn.execute("SELECT current_setting('statement_timeout')").fetchone()[0]
print(json.dumps(out))
