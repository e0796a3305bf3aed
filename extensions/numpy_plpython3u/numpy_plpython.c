/*
 * numpy_plpython3u for PostgreSQL 15+: the twin of the extension pyglite serves in its own PL/Python handler,
 * so that functions written for pyglite (CREATE EXTENSION numpy_plpython3u; CREATE FUNCTION ... TRANSFORM
 * FOR TYPE float8[] LANGUAGE plpython3u) are accepted and run here unchanged. See docs/columns.md.
 *
 * The transforms are declared for the element types (int2, int4, int8, float4, float8, bool, oid): that is
 * what CREATE FUNCTION records for TRANSFORM FOR TYPE float8[]. PostgreSQL's PL/Python never hands an
 * array to a transform (plpy_typeio.c PLy_input_setup_func / PLy_output_setup_func take true arrays before
 * they look for one), so here an array argument stays PL/Python's list and each element goes through the
 * FROM SQL function below, which gives what PL/Python gives without a transform (PLyLong_FromInt16 …
 * PLyBool_FromBool); results are PL/Python's own (the transforms have no TO SQL function). pyglite, which
 * owns its handler, turns such arrays into numpy arrays in one piece instead.
 */
#include "postgres.h"

#include "fmgr.h"
#include "plpy_elog.h"

PG_MODULE_MAGIC;

typedef void (*PLy_elog_impl_t) (int elevel, const char *fmt,...);

/* A failed allocation in Python: reported as PL/Python reports the pending exception (PLy_elog_impl, found
 * in plpython3.so when needed, as contrib/jsonb_plpython does). */
static void
report_python_error(void)
{
	PLy_elog_impl_t elog_p = (PLy_elog_impl_t)
		load_external_function("$libdir/" PLPYTHON_LIBNAME, "PLy_elog_impl", true, NULL);

	elog_p(ERROR, NULL);
	pg_unreachable();
}

#define FROM_SQL(name, expr) \
	PG_FUNCTION_INFO_V1(numpy_##name##_to_plpython); \
	Datum numpy_##name##_to_plpython(PG_FUNCTION_ARGS); \
	Datum numpy_##name##_to_plpython(PG_FUNCTION_ARGS) \
	{ \
		Datum		d = PG_GETARG_DATUM(0); \
		PyObject   *o = (expr); \
		if (!o) \
			report_python_error(); \
		return PointerGetDatum(o); \
	}

FROM_SQL(int2, PyLong_FromLong(DatumGetInt16(d)))
FROM_SQL(int4, PyLong_FromLong(DatumGetInt32(d)))
FROM_SQL(int8, PyLong_FromLongLong(DatumGetInt64(d)))
FROM_SQL(float4, PyFloat_FromDouble(DatumGetFloat4(d)))
FROM_SQL(float8, PyFloat_FromDouble(DatumGetFloat8(d)))
FROM_SQL(bool, PyBool_FromLong(DatumGetBool(d)))
FROM_SQL(oid, PyLong_FromUnsignedLong(DatumGetObjectId(d)))
