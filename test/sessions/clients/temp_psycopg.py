# psycopg 3 (a transaction opened by BEGIN before the first statement, as psycopg does without autocommit):
# CREATE TEMP TABLE bang while other clients create theirs under the same name; each sees only its own.
import json
import sys

import psycopg

with psycopg.connect(sys.argv[1]) as conn:
    conn.execute("CREATE TEMP TABLE bang(who text)")
    conn.execute("INSERT INTO bang VALUES ('psycopg')")
    conn.commit()
    print("ready", flush=True)  # the test runs the other clients now
    sys.stdin.readline()  # and says when they are done
    rows = [r[0] for r in conn.execute("SELECT who FROM bang")]
    ns = conn.execute("SELECT pg_my_temp_schema()::regnamespace::text").fetchone()[0]
    conn.commit()
print(json.dumps({"rows": rows, "ns": ns}))
