# Two psycopg 3 connections preparing different statements that get the same server-side names (_pg3_0,
# _pg3_1, ...: numbered per connection), used interleaved: each runs its own.
import json
import sys

import psycopg

url = sys.argv[1]
out = {"rows": []}
with psycopg.connect(url, autocommit=True) as a, psycopg.connect(url, autocommit=True) as b:
    for i in range(6):
        ra = a.execute("SELECT %s::int * 10", (i,), prepare=True).fetchone()[0]
        rb = b.execute("SELECT %s::text || '-b'", (f"y{i}",), prepare=True).fetchone()[0]
        out["rows"].append([ra, rb])
    out["a"] = a.execute("SELECT array_agg(name ORDER BY name) FROM pg_prepared_statements").fetchone()[0]
    out["b"] = b.execute("SELECT array_agg(statement ORDER BY name) FROM pg_prepared_statements").fetchone()[0]
print(json.dumps(out))
