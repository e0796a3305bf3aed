"""A foreign table whose Python code is in the DDL (the Timeplus shape): pyglite's short form.

    CREATE SERVER ticks FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'multicorn.pyfunc.PyFunc', code $$
    def read():
        for i in range(3):
            yield {'n': i}
    $$);
    CREATE FOREIGN TABLE t (n int) SERVER ticks;

The server's `code` option is run once per instance in a fresh namespace; these names in it are used:

- read(), or read(quals, columns): an iterable of rows (dicts or sequences), the table's scan;
- write(col1, col2, ...): one list per table column (in column order) for each batch of inserted rows;
- init(options): before the first read or write of a statement; deinit(): after the last one;
- batch_size = N (default 1000): rows per write() call.

The names can be changed with the options read, write, init, deinit. Only superusers create servers (the
multicorn validator), and `code` is refused on foreign tables and user mappings, so the code is always a
superuser's. This class uses only multicorn's API: with a copy of this file it runs on multicorn2 too.
"""

import inspect

from . import ForeignDataWrapper


class PyFunc(ForeignDataWrapper):
    def __init__(self, options, columns):
        super(PyFunc, self).__init__(options, columns)
        self.options = dict(options)
        self.columns = list(columns)
        code = self.options.get("code")
        if not code:
            raise ValueError("multicorn.pyfunc.PyFunc needs the server option code")
        self.ns = {"__name__": "pyfunc"}
        exec(compile(code, "<code option>", "exec"), self.ns)
        self.batch = int(self.ns.get("batch_size", self.options.get("batch_size", 1000)))
        self._open = False

    def _fn(self, role):
        return self.ns.get(self.options.get(role, role))

    def _begin(self):
        if not self._open:
            self._open = True
            init = self._fn("init")
            if init is not None:
                init(self.options)

    def _end(self):
        if self._open:
            self._open = False
            deinit = self._fn("deinit")
            if deinit is not None:
                deinit()

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        read = self._fn("read")
        if read is None:
            raise NotImplementedError("this table's code defines no read function")
        self._begin()
        params = inspect.signature(read).parameters
        return read(quals, columns) if len(params) >= 2 else read()

    def end_scan(self):
        self._end()

    @property
    def modify_batch_size(self):
        return self.batch

    @property
    def rowid_column(self):
        return self.columns[0]

    def bulk_insert(self, all_values):
        write = self._fn("write")
        if write is None:
            raise NotImplementedError("this table's code defines no write function")
        self._begin()
        write(*[[row.get(c) for row in all_values] for c in self.columns])

    def insert(self, values):
        self.bulk_insert([values])

    def end_modify(self):
        self._end()
