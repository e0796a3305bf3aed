/* Python <-> JS (core/jscall.c): values both ways, calls from Python into the engine's JS
 * (_pyglite.jscall and call_engine), and the stashed error handed to JS (lastError).
 *
 * Globals declared here, owned by core/jscall.c:
 *   g_PgError    _pyglite.PgError, an engine error handed to Python (created by pyglite.c Init; raised by
 *                js_to_py for a {pgerror} result; caught by plpy/spiop.c)
 * (the dispatcher reference and the str cache are jscall.c's own statics)
 * Includes core/state.h and core/codec.h only. */
#ifndef PYGLITE_JSCALL_H
#define PYGLITE_JSCALL_H

#include "state.h"
#include "codec.h"

extern PyObject *g_PgError; /* _pyglite.PgError: an engine error handed to Python */

/* JS value → Python (codec bytes decoded, {pgerror} raised as PgError); a str argument as a JS string
 * (kept per str object: a loop's query text is made once) */
PyObject *js_to_py(napi_env env, napi_value v, int depth);
napi_value str_arg(napi_env env, PyObject *o);
int call_engine(napi_env env, napi_ref fn, size_t argc, napi_value *argv, napi_value *res, const char *what);

/* init(dispatcher): keep the JS dispatcher _pyglite.jscall calls (a persistent reference). */
void jscall_set_dispatcher(napi_env env, napi_value fn);
/* _pyglite.jscall(op, *args) */
PyObject *py_jscall(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* lastError() -> array of the formatter's fields (the error stash_error kept), or null */
napi_value LastError(napi_env env, napi_callback_info info);

#endif
