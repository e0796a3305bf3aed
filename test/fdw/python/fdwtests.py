"""Wrappers the foreign-table tests use (test/fdw): each records what the engine passed it in LOG, a
module-level list the tests read back through a plpython3u function."""

import time

from multicorn import ForeignDataWrapper, TransactionAwareForeignDataWrapper
from multicorn.utils import ERROR, WARNING, log_to_postgres

LOG = []
SINK = []
STATE = {"produced": 0, "closed": 0}


class Numbers(ForeignDataWrapper):
    """Rows (n, sq, label) for n in 1..options['count'] (default 10); records every call."""

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.options = options
        self.columns = columns
        LOG.append(("init", sorted(options.items()), list(columns)))

    def get_rel_size(self, quals, columns):
        LOG.append(("get_rel_size", sorted(map(repr, quals)), sorted(columns)))
        return (int(self.options.get("count", 10)), 30)

    def get_path_keys(self):
        return [(("n",), 1)] if self.options.get("pathkeys") == "yes" else []

    def can_sort(self, sortkeys):
        LOG.append(("can_sort", [(k.attname, k.is_reversed, k.nulls_first) for k in sortkeys]))
        return [k for k in sortkeys if k.attname == "n"]

    def can_limit(self, limit, offset):
        LOG.append(("can_limit", limit, offset))
        return self.options.get("limit") == "yes"

    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        return ["quals: %s" % sorted(map(repr, quals)), "columns: %s" % sorted(columns), "verbose: %s" % verbose]

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        LOG.append(("execute", sorted(map(repr, quals)), sorted(columns), [tuple(k[:4]) for k in sortkeys or []], limit, offset))
        rng = range(1, int(self.options.get("count", 10)) + 1)
        eq = [q.value for q in quals if q.field_name == "n" and q.operator == "=" and q.value is not None]
        if eq:
            rng = [v for v in rng[:0]] + [v for v in set(eq) if v in rng]
        if sortkeys and sortkeys[0].is_reversed:
            rng = reversed(rng)
        if self.options.get("shape") == "tuple":
            for n in rng:
                yield (n, n * n, "n%d" % n)
            return
        for n in rng:
            yield {"n": n, "sq": n * n, "label": "n%d" % n}

    def end_scan(self):
        LOG.append(("end_scan",))


class Endless(ForeignDataWrapper):
    """An endless generator; counts rows produced and whether its finally ran. sleep > 0 blocks in it."""

    def __init__(self, options, columns):
        self.sleep = float(options.get("sleep", "0"))
        self.block = options.get("block")

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        STATE["produced"] = 0
        try:
            n = 0
            while True:
                if self.block == "sleep":
                    time.sleep(3600)
                elif self.block == "queue":
                    import queue

                    queue.Queue().get()
                elif self.block == "socket":
                    import socket

                    a, b = socket.socketpair()
                    try:
                        a.recv(1)  # nothing is ever sent: blocks in recv(2)
                    finally:
                        a.close()
                        b.close()
                n += 1
                STATE["produced"] = n
                yield {"n": n}
        finally:
            STATE["closed"] += 1


class Failing(ForeignDataWrapper):
    """Fails where options['where'] says: init, execute, iterate, log_error."""

    def __init__(self, options, columns):
        self.where = options.get("where")
        if self.where == "init":
            raise ValueError("bad options")

    def get_rel_size(self, quals, columns):
        if self.where == "get_rel_size":
            raise RuntimeError("no estimate")
        return (10, 10)

    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        if self.where == "explain":
            raise RuntimeError("no explanation")
        return ["fine"]

    def end_scan(self):
        if self.where == "end_scan":
            raise RuntimeError("cleanup failed")

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        if self.where == "execute":
            raise KeyError("missing")
        if self.where == "log_error":
            log_to_postgres("it failed", ERROR, hint="try again", detail="the details")
        if self.where == "warning":
            log_to_postgres("careful", WARNING)
        yield {"n": 1}
        if self.where == "iterate":
            1 / 0


class Sink(TransactionAwareForeignDataWrapper):
    """Writable: rowid 'id'; writes go to SINK at commit (pre_commit), events are logged."""

    def __init__(self, options, columns):
        super().__init__(options, columns)
        self.batch = int(options.get("batch", "1"))
        self.fail = options.get("fail")

    @property
    def rowid_column(self):
        return "id"

    @property
    def modify_batch_size(self):
        return self.batch

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        for op, v in list(SINK):
            if op == "insert":
                yield v

    def insert(self, values):
        super().insert(values)
        if self.fail == "returning":
            return dict(values, v="stored:%s" % values.get("v"))  # the foreign side changed a value
        return None

    def bulk_insert(self, all_values):
        LOG.append(("bulk_insert", len(all_values)))
        if self.fail == "bulk_insert":
            raise ValueError("sink is full")
        for v in all_values:
            self.insert(v)

    def update(self, rowid, newvalues):
        LOG.append(("update", rowid, sorted(newvalues.items())))
        super().update(rowid, newvalues)

    def delete(self, rowid):
        LOG.append(("delete", rowid))
        super().delete(rowid)

    def begin(self, serializable):
        LOG.append(("begin", serializable))

    def pre_commit(self):
        LOG.append(("pre_commit", len(self.current_transaction_state)))
        if self.fail == "pre_commit":
            raise RuntimeError("remote refused the commit")
        SINK.extend(self.current_transaction_state)
        self._init_transaction_state()

    def commit(self):
        LOG.append(("commit",))
        if self.fail == "commit":
            raise RuntimeError("lost the acknowledgement")

    def rollback(self):
        LOG.append(("rollback", len(self.current_transaction_state)))
        super().rollback()

    def sub_begin(self, level):
        LOG.append(("sub_begin", level))

    def sub_commit(self, level):
        LOG.append(("sub_commit", level))

    def sub_rollback(self, level):
        LOG.append(("sub_rollback", level))

    def end_modify(self):
        LOG.append(("end_modify",))

    @classmethod
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        from multicorn import ColumnDefinition, TableDefinition

        LOG.append(("import_schema", schema, sorted(srv_options.items()), sorted(options.items()), restriction_type, restricts))
        names = ["alpha", "beta", "gamma"]
        if restriction_type == "limit":
            names = [n for n in names if n in restricts]
        elif restriction_type == "except":
            names = [n for n in names if n not in restricts]
        return [
            TableDefinition(
                n,
                columns=[ColumnDefinition("id", type_name="integer"), ColumnDefinition("v", type_name="text", options={"k": "x"})],
                options={"source": "%s.%s" % (schema, n)},
            )
            for n in names
        ]


class Plpy(ForeignDataWrapper):
    """Uses plpy inside execute: rows from a query in the current transaction."""

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        import plpy

        for r in plpy.execute("SELECT id, v FROM fdw_local ORDER BY id"):
            yield {"n": r["id"], "label": r["v"]}


class Values(ForeignDataWrapper):
    """Rows chosen by options['case'], for the conversion tests."""

    def __init__(self, options, columns):
        self.case = options["case"]

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        import datetime
        import decimal

        if self.case == "types":
            utc = datetime.timezone.utc
            yield {
                "i2": 7, "i8": 2**62, "f4": 1.5, "f8": float("nan"), "b": True, "n": decimal.Decimal("1.25"),
                "d": datetime.date(2024, 1, 2), "ts": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc),
                "j": {"a": [1, 2]}, "a": [1, None, 3], "y": b"\x00\xff", "vc": "abc", "t": "h\u00e9llo",
            }
            yield {}
        elif self.case == "nulls":
            yield (None, None, None)
            yield (1, "x", 1.5)
        elif self.case == "int_overflow":
            yield {"v": 2**31}
        elif self.case == "varchar_long":
            yield {"v": "abcd"}
        elif self.case == "nul":
            yield {"v": "a\x00b"}
        elif self.case == "bad_row":
            yield 42
