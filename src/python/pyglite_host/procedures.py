"""Compiling PL/Python procedures (as plpy_procedure.c does) and registering them for the native call path."""

import _pyglite

from . import convert, sessions


def python_name(name, oid):
    """__plpython_procedure_<name>_<oid>, every byte that is not an ASCII letter or digit replaced by '_'
    (plpy_procedure.c munges the name's bytes in the server encoding, UTF8 here: "é" becomes "__")."""
    raw = ("__plpython_procedure_%s_%d" % (name, oid)).encode("utf-8", "surrogatepass")
    return "".join(chr(b) if (97 <= b <= 122 or 65 <= b <= 90 or 48 <= b <= 57) else "_" for b in raw)


def munge_source(pyname, src):
    """Wrap the body in `def pyname():`, indenting every line by one tab; CRLF and CR become LF."""
    out = ["def %s():\n\t" % pyname]
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\r" and i + 1 < n and src[i + 1] == "\n":
            i += 1
            c = "\n"
        if c == "\n" or c == "\r":
            out.append("\n\t")
        else:
            out.append(c)
        i += 1
    out.append("\n\n")
    return "".join(out)


def _compile(meta, globals_):
    pyname = meta.get("pyname") or python_name(meta["name"], meta["oid"])
    source = munge_source(pyname, meta["src"])
    code = compile(source, "<string>", "exec")
    exec(code, globals_)  # defines the function in the procedure's globals
    return globals_[pyname], source


def compile_only(meta):
    """Validator: compile in a throw-away namespace (CREATE FUNCTION reports syntax errors)."""
    _compile(meta, {"__builtins__": __builtins__})


def compile_and_register(meta):
    session = sessions.get(meta["sid"])
    key = meta["key"]
    old = session.procs.pop(key, None)
    if old is not None:
        _pyglite.release_proc(old)
    globals_ = dict(session.main_globals)
    globals_["SD"] = {}
    func, source = _compile(meta, globals_)
    func.__pyglite_source__ = source
    func.__pyglite_name__ = meta["name"]
    argnames = tuple(n if n else None for n in meta["argnames"])
    converter = convert.result_converter(meta["result"])
    pid = _pyglite.register_proc(func, globals_, argnames, bytes(meta["argkinds"]), meta["retkind"], converter)
    convert.register_procedure(pid, meta, source)
    if not meta.get("transient"):
        session.procs[key] = pid
    return pid


def set_result_desc(pid, desc_json):
    """A record-returning procedure learned its columns (at call time): convert results by them."""
    _pyglite.set_converter(pid, convert.result_converter(desc_json))
