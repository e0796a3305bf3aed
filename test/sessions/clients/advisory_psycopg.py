# psycopg 3 without autocommit (BEGIN is sent alone before the first statement): pg_advisory_lock waits
# while another connection holds the lock, and gets it inside the transaction once that one unlocks.
import json
import sys
import threading
import time

import psycopg

url = sys.argv[1]
out = {}
with psycopg.connect(url, autocommit=True) as holder, psycopg.connect(url) as waiter:
    holder.execute("SELECT pg_advisory_lock(77)")
    pid = waiter.info.backend_pid
    done = {}

    def run():
        t0 = time.monotonic()
        waiter.execute("SELECT pg_advisory_lock(%s)", [77])
        done["waited"] = time.monotonic() - t0
        done["status"] = str(waiter.info.transaction_status.name)
        waiter.commit()

    t = threading.Thread(target=run)
    t.start()
    for _ in range(400):
        row = holder.execute(
            "SELECT wait_event FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        if row and row[0] == "advisory":
            break
        time.sleep(0.02)
    out["seen"] = row[0] if row else None
    time.sleep(0.3)
    holder.execute("SELECT pg_advisory_unlock(77)")
    t.join(10)
    out["waited_enough"] = done.get("waited", 0) >= 0.3
    out["status"] = done.get("status")
    out["holder_try"] = holder.execute("SELECT pg_try_advisory_lock(77)").fetchone()[0]
print(json.dumps(out))
