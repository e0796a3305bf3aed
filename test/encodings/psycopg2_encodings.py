# psycopg2 and set_client_encoding(): for each encoding given, a round trip of text, COPY in and out, and the
# unconvertible-character error. Prints one JSON object, so that the same run on pyglite and on PostgreSQL 15
# can be compared. Usage: python3 psycopg2_encodings.py DSN ENCODING...
import io
import json
import sys

import psycopg2

SAMPLE = "é ü ß Ç ő ł Ж щ ї Ω α ש ع ไท 中文 日本語 ｶﾅ 한국 € ‰ ™ ©"

dsn, encodings = sys.argv[1], sys.argv[2:]
out = {}
conn = psycopg2.connect(dsn)
conn.autocommit = True
for enc in encodings:
    r = {}
    try:
        conn.set_client_encoding(enc)
        codec = psycopg2.extensions.encodings[conn.encoding]
        # the characters this client can send at all in that encoding (the codec decides, not the server)
        text = "".join(ch for ch in SAMPLE if ch.encode(codec, "ignore"))
        cur = conn.cursor()
        cur.execute("SHOW client_encoding")
        r["client_encoding"] = cur.fetchone()[0]
        cur.execute("SELECT %s::text, length(%s::text), encode(convert_to(%s::text, 'UTF8'), 'hex')", (text, text, text))
        r["select"] = list(cur.fetchone())
        table = "pg2_" + enc.lower()
        cur.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n int, s text)")
        cur.copy_expert(f"COPY {table} FROM STDIN", io.StringIO("".join(f"{i}\t{ch}\n" for i, ch in enumerate(text))))
        buf = io.StringIO()
        cur.copy_expert(f"COPY (SELECT * FROM {table} ORDER BY n) TO STDOUT", buf)
        r["copy_out"] = buf.getvalue()
        cur.execute(f"SELECT string_agg(s, '' ORDER BY n) = %s FROM {table}", (text,))
        r["copy_round_trip"] = cur.fetchone()[0]
        try:
            cur.execute("SELECT U&'\\+01F600' AS emoji, 1")
            r["emoji"] = cur.fetchone()[0]
        except psycopg2.Error as e:
            r["emoji_error"] = [e.pgcode, e.pgerror]
        cur.execute("SELECT 1")  # the session goes on after the error
        r["after"] = cur.fetchone()[0]
    except psycopg2.Error as e:
        r["error"] = [e.pgcode, e.pgerror]
    except Exception as e:  # a client-side codec failure is a result too
        r["client_error"] = type(e).__name__
    out[enc] = r
conn.set_client_encoding("UTF8")
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
