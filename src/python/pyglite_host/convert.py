"""Python results -> PostgreSQL values, by PL/Python's output conversions (plpy_typeio.c).

A converter is compiled once per result descriptor (made by src/python/output.ts: scalar, bool, bytea,
void, array of X, row of named columns) into a native _pyglite.Converter, which walks a returned object
the way PLyObject_ToScalar, PLyObject_ToBool, PLyObject_ToBytea, PLySequence_ToArray and
PLyObject_ToComposite do (native/call/convert.c) and writes the codec stream the engine's builders turn into
Datums. A failure is an ERROR tag at the point where PostgreSQL would raise it. This module keeps the
descriptor cache, the procedure registry the error formatter reads, and the formatting of conversion
errors that carry a Python exception (detail and traceback, as PLy_elog does).
"""

import json

import _pyglite

from . import errors, transforms

# procedure id -> metadata used by the error formatter (name, munged source, kind)
procedures = {}

_converters = {}


def register_procedure(pid, meta, source):
    procedures[pid] = {"name": meta["name"], "source": source, "kind": meta.get("kind", "function")}


class ConversionError(Exception):
    """A conversion failure with a SQLSTATE (e.g. 42804), reported without a Python traceback."""

    def __init__(self, message, sqlstate="XX000", detail=None, hint=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


def result_converter(desc):
    """The converter for a descriptor (JSON text or the dict itself; one per distinct descriptor):
    converter(value, pid=None) -> codec bytes. pid names the running procedure for tracebacks."""
    key = desc if isinstance(desc, str) else json.dumps(desc, sort_keys=True)
    c = _converters.get(key)
    if c is None:
        c = _converters[key] = _pyglite.Converter(json.loads(key) if isinstance(desc, str) else desc)
    return c


def failure_fields(message, exc, pid):
    """PLy_elog(ERROR, message) with exc pending: (message, sqlstate, detail, hint, context). The frame C
    called into (a __str__, a __getitem__) is skipped, as PLy_traceback skips its first frame."""
    f = errors.fields_for(exc, procedures.get(pid), 0, message=message, skip_first=True)
    return (f[0], f[1], f[2], f[3], f[4])


_pyglite.set_failure_fields(failure_fields)
_pyglite.set_transform(transforms.to_sql)
