/*
 * numpy_plpython3u--1.0.sql: the same SQL on PostgreSQL (numpy_plpython.c) and in pyglite
 * (src/extensions/transforms.ts). docs/columns.md.
 *
 * A transform for each element type. CREATE FUNCTION ... TRANSFORM FOR TYPE float8[] records the element
 * type float8 in pg_proc.protrftypes (functioncmds.c: get_base_element_type), so that is where the opt-in
 * lives. In pyglite, arrays of a listed element type reach Python as numpy arrays. PostgreSQL's PL/Python
 * never applies a transform to an array (plpy_typeio.c PLy_input_setup_func checks arrays first): there
 * the element transform runs per element and gives exactly what PL/Python gives without it.
 */

\echo Use "CREATE EXTENSION numpy_plpython3u" to load this file. \quit

CREATE FUNCTION numpy_int2_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_int2_to_plpython';
CREATE TRANSFORM FOR int2 LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_int2_to_plpython3(internal));
COMMENT ON TRANSFORM FOR int2 LANGUAGE plpython3u IS 'transform between int2[] and numpy';

CREATE FUNCTION numpy_int4_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_int4_to_plpython';
CREATE TRANSFORM FOR int4 LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_int4_to_plpython3(internal));
COMMENT ON TRANSFORM FOR int4 LANGUAGE plpython3u IS 'transform between int4[] and numpy';

CREATE FUNCTION numpy_int8_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_int8_to_plpython';
CREATE TRANSFORM FOR int8 LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_int8_to_plpython3(internal));
COMMENT ON TRANSFORM FOR int8 LANGUAGE plpython3u IS 'transform between int8[] and numpy';

CREATE FUNCTION numpy_float4_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_float4_to_plpython';
CREATE TRANSFORM FOR float4 LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_float4_to_plpython3(internal));
COMMENT ON TRANSFORM FOR float4 LANGUAGE plpython3u IS 'transform between float4[] and numpy';

CREATE FUNCTION numpy_float8_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_float8_to_plpython';
CREATE TRANSFORM FOR float8 LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_float8_to_plpython3(internal));
COMMENT ON TRANSFORM FOR float8 LANGUAGE plpython3u IS 'transform between float8[] and numpy';

CREATE FUNCTION numpy_bool_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_bool_to_plpython';
CREATE TRANSFORM FOR bool LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_bool_to_plpython3(internal));
COMMENT ON TRANSFORM FOR bool LANGUAGE plpython3u IS 'transform between bool[] and numpy';

CREATE FUNCTION numpy_oid_to_plpython3(val internal) RETURNS internal
LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'numpy_oid_to_plpython';
CREATE TRANSFORM FOR oid LANGUAGE plpython3u (FROM SQL WITH FUNCTION numpy_oid_to_plpython3(internal));
COMMENT ON TRANSFORM FOR oid LANGUAGE plpython3u IS 'transform between oid[] and numpy';
