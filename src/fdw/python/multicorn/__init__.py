"""Multicorn's Python API (multicorn2 3.2) for foreign tables served by pyglite.

Wrappers written for multicorn2 import these names and run unchanged: the engine (src/fdw) instantiates the
class named by the server's `wrapper` option with (options, columns) and calls the methods below. The
defaults are multicorn2's: a wrapper that defines only `execute` is a read-only source.
"""

from collections import OrderedDict, namedtuple

__version__ = "3.2"

ANY = object()
ALL = object()
UNBOUND = object()

SortKey = namedtuple("SortKey", ["attname", "attnum", "is_reversed", "nulls_first", "collate"])
SortKey.__doc__ = "One ORDER BY key of a scan: column name and number, DESC, NULLS FIRST, collation name."


class Qual(object):
    """A restriction `field_name operator value` taken from the WHERE clause.

    `operator` is the operator's name ('=', '<', '~~', ...), or for `col op ANY/ALL(array)` a tuple
    (name, True for ANY / False for ALL) with `value` a list.
    """

    def __init__(self, field_name, operator, value):
        self.field_name = field_name
        self.operator = operator
        self.value = value

    @property
    def is_list_operator(self):
        return isinstance(self.operator, tuple)

    @property
    def list_any_or_all(self):
        if not self.is_list_operator:
            return None
        return ANY if self.operator[1] else ALL

    def __repr__(self):
        if self.is_list_operator:
            kind = "ANY" if self.operator[1] else "ALL"
            return "%s %s %s(%s)" % (self.field_name, self.operator[0], kind, self.value)
        return "%s %s %s" % (self.field_name, self.operator, self.value)

    def __eq__(self, other):
        return (
            isinstance(other, Qual)
            and (self.field_name, self.operator, self.value) == (other.field_name, other.operator, other.value)
        )

    def __hash__(self):
        return hash((self.field_name, self.operator, repr(self.value)))


class ForeignDataWrapper(object):
    """Base class of foreign data wrappers: one instance per foreign table (and client session)."""

    _startup_cost = 20

    def __init__(self, fdw_options, fdw_columns):
        pass

    def get_rel_size(self, quals, columns):
        """(expected rows, average row width in bytes) for the planner."""
        return (100000000, len(columns) * 100)

    def can_sort(self, sortkeys):
        """The leading SortKeys of `sortkeys` this wrapper will return rows ordered by."""
        return []

    def can_limit(self, limit, offset):
        """True if execute() applies LIMIT/OFFSET itself (asked only when the whole query pushes down)."""
        return False

    def get_path_keys(self):
        """[((column, ...), expected_rows), ...]: parameterized access paths (like an index lookup)."""
        return []

    def explain(self, quals, columns, sortkeys=None, verbose=False, limit=None, offset=None):
        """Lines shown in EXPLAIN as `Multicorn: <line>`."""
        return []

    def execute(self, quals, columns, sortkeys=None, limit=None, offset=None):
        """An iterable (ideally a generator) of rows: dicts by column name, or sequences in column order."""
        pass

    @property
    def rowid_column(self):
        raise NotImplementedError("This FDW does not support the writable API")

    @property
    def modify_batch_size(self):
        return 1

    def insert(self, values):
        raise NotImplementedError("This FDW does not support the writable API")

    def bulk_insert(self, all_values):
        raise NotImplementedError("This FDW does not support the bulk insert writable API")

    def update(self, oldvalues, newvalues):
        raise NotImplementedError("This FDW does not support the writable API")

    def delete(self, oldvalues):
        raise NotImplementedError("This FDW does not support the writable API")

    def pre_commit(self):
        pass

    def rollback(self):
        pass

    def commit(self):
        pass

    def end_scan(self):
        pass

    def end_modify(self):
        pass

    def begin(self, serializable):
        pass

    def sub_begin(self, level):
        pass

    def sub_rollback(self, level):
        pass

    def sub_commit(self, level):
        pass

    @classmethod
    def import_schema(cls, schema, srv_options, options, restriction_type, restricts):
        raise NotImplementedError("This FDW does not support IMPORT FOREIGN SCHEMA")


class TransactionAwareForeignDataWrapper(ForeignDataWrapper):
    """Keeps the writes of the running transaction in `current_transaction_state`; rollback clears it."""

    def __init__(self, fdw_options, fdw_columns):
        super(TransactionAwareForeignDataWrapper, self).__init__(fdw_options, fdw_columns)
        self._init_transaction_state()

    def _init_transaction_state(self):
        self.current_transaction_state = []

    def insert(self, values):
        self.current_transaction_state.append(("insert", values))

    def update(self, oldvalues, newvalues):
        self.current_transaction_state.append(("update", (oldvalues, newvalues)))

    def delete(self, oldvalues):
        self.current_transaction_state.append(("delete", oldvalues))

    def rollback(self):
        self._init_transaction_state()


def _resolve(name, package):
    level = len(name) - len(name.lstrip("."))
    if not package:
        raise TypeError("relative imports require the 'package' argument")
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return base + "." + name[level:]


def import_module(name, package=None):
    """importlib.import_module (multicorn2 keeps its own copy; wrappers sometimes import it from here)."""
    import importlib

    if name.startswith("."):
        name = _resolve(name, package)
    return importlib.import_module(name)


def get_class(module_path):
    """The class `package.module.Class` names (the server's `wrapper` option)."""
    module_name, _, class_name = module_path.rpartition(".")
    if not module_name:
        raise ImportError("wrapper %r is not of the form package.module.Class" % module_path)
    return getattr(import_module(module_name), class_name)


def quote_identifier(value):
    return '"%s"' % value.replace('"', '""')


def quote_option(value):
    return "'%s'" % value.replace("'", "''")


def dict_to_optionstring(options):
    return ",\n".join("%s %s" % (k, quote_option(v)) for k, v in sorted(options.items()))


class ColumnDefinition(object):
    """A foreign table's column: name, type OID and typmod, type name with and without modifier, options."""

    def __init__(self, column_name, type_oid=0, typmod=0, type_name="", base_type_name="", options=None):
        self.column_name = column_name
        self.type_oid = type_oid
        self.typmod = typmod
        self.type_name = type_name
        self.base_type_name = base_type_name
        self.options = options or {}

    def __repr__(self):
        opts = " options %s" % self.options if self.options else ""
        return "%s(%s, %i, %s%s)" % (type(self).__name__, self.column_name, self.type_oid, self.type_name, opts)

    def to_statement(self):
        out = "%s %s" % (quote_identifier(self.column_name), self.type_name)
        if self.options:
            out += " OPTIONS ( %s )" % dict_to_optionstring(self.options)
        return out


class TableDefinition(object):
    """A table IMPORT FOREIGN SCHEMA creates: name, ColumnDefinitions, table options."""

    def __init__(self, table_name, schema=None, columns=None, options=None):
        self.table_name = table_name
        self.columns = columns or []
        self.options = options or {}

    def to_statement(self, schema_name, server_name):
        parts = [
            "CREATE FOREIGN TABLE %s.%s (" % (quote_identifier(schema_name), quote_identifier(self.table_name)),
            ",\n".join(c.to_statement() for c in self.columns),
            " \n ) SERVER %s " % quote_identifier(server_name),
        ]
        if self.options:
            parts += [" OPTIONS (", dict_to_optionstring(self.options), ")"]
        return "\n".join(parts)


__all__ = [
    "ANY",
    "ALL",
    "UNBOUND",
    "SortKey",
    "Qual",
    "ForeignDataWrapper",
    "TransactionAwareForeignDataWrapper",
    "ColumnDefinition",
    "TableDefinition",
    "OrderedDict",
    "get_class",
    "import_module",
]
