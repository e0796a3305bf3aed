/* The codec's tags and its decoder (core/codec.c): tagged values JS -> Python, must match
 * src/python/codec.ts; the result tags (Python -> JS) are written by call/convert.c.
 * Globals: none (codec.c keeps decimal.Decimal to itself). Includes no header of the addon. */
#ifndef PYGLITE_CODEC_H
#define PYGLITE_CODEC_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <stdint.h>

enum {
  T_NONE = 0,
  T_FALSE = 1,
  T_TRUE = 2,
  T_INT32 = 3,
  T_INT64 = 4,
  T_FLOAT64 = 5,
  T_STR = 6,
  T_BYTES = 7,
  T_DECIMAL = 8,
  T_LIST = 9,
  T_DICT = 10,
  T_ROWS = 11,
  T_INTSTR = 12,
  T_TUPLE = 13,
  T_ARRAY = 14, /* results only (Python -> JS) */
  T_ARRAY_END = 15,
  T_ROW = 16,
  T_ERROR = 17,
  /* a numeric array in one piece (numpy_plpython3u): JS -> Python u8 struct code, then both ways u8 ndim,
   * u32 dims[ndim], u32 + NULL bitmap (length 0: no NULLs), u32 + packed non-NULL elements */
  T_NDARRAY = 18,
};

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Reader;

/* Decode one value; NULL with a Python exception set on malformed input. */
PyObject *codec_decode(Reader *r);
int codec_init(void);

#endif
