# psycopg 3: pg_cancel_backend(pid) cancels a statement waiting for another session's transaction (57014),
# pg_terminate_backend(pid) ends the session: its next statement fails with the FATAL's message, as with
# PostgreSQL 15 (libpq: 'consuming input failed: terminating connection due to administrator command').
import json
import sys
import threading
import time

import psycopg

url = sys.argv[1]
out = {}
with psycopg.connect(url, autocommit=True) as admin, psycopg.connect(url) as holder, psycopg.connect(
    url, autocommit=True
) as victim:
    holder.execute("SELECT 1")  # its transaction is open: the victim's statement waits for its turn
    pid = victim.info.backend_pid
    got = {}

    def run():
        try:
            victim.execute("SELECT 2")
        except psycopg.Error as e:
            got["e"] = [e.sqlstate, e.diag.message_primary]

    t = threading.Thread(target=run)
    t.start()
    for _ in range(400):
        n = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid]
        ).fetchone()[0]
        if n == 1:
            break
        time.sleep(0.025)
    admin.execute("SELECT pg_cancel_backend(%s)", [pid])
    t.join(10)
    out["cancel"] = got.get("e")
    holder.rollback()
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        victim.execute("SELECT 3")
        out["terminated"] = None
    except psycopg.Error as e:
        # as against PostgreSQL 15: libpq reads the FATAL while the connection closes (no SQLSTATE kept)
        out["terminated"] = [type(e).__name__, str(e).split("\n")[0]]
print(json.dumps(out))
