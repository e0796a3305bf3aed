# pg_locks seen from psycopg2 while a psycopg 3 connection holds session-level advisory locks and another
# (psycopg 3 without autocommit: BEGIN sent alone) waits for one; prints the advisory rows with pids named
# by the connection that owns them, the same on pyglite and on PostgreSQL.
import json
import sys
import threading
import time

import psycopg
import psycopg2

url = sys.argv[1]
out = {}
QUERY = """SELECT locktype, classid::int8, objid::int8, objsubid, pid, mode, granted, fastpath,
  waitstart IS NOT NULL FROM pg_locks WHERE locktype = 'advisory' ORDER BY pid, classid, objid, mode"""

with psycopg.connect(url, autocommit=True) as holder, psycopg.connect(url) as waiter:
    watcher = psycopg2.connect(url)
    watcher.autocommit = True
    cur = watcher.cursor()
    names = {holder.info.backend_pid: "holder", waiter.info.backend_pid: "waiter"}

    def rows():
        cur.execute(QUERY)
        return [[*r[:4], names.get(r[4], "?"), *r[5:]] for r in cur.fetchall()]

    holder.execute("SELECT pg_advisory_lock(4242), pg_advisory_lock_shared(7, 8)")
    out["held"] = rows()
    done = {}

    def run():
        waiter.execute("SELECT pg_advisory_lock(%s)", [4242])
        done["got"] = True
        waiter.commit()

    t = threading.Thread(target=run)
    t.start()
    waiting = []
    for _ in range(400):
        waiting = [r for r in rows() if not r[6]]
        if waiting:
            break
        time.sleep(0.02)
    out["waiting"] = waiting
    holder.execute("SELECT pg_advisory_unlock_all()")
    t.join(10)
    out["got"] = done.get("got", False)
    out["after"] = rows()
    watcher.close()
print(json.dumps(out))
