"""The implementation of the plpy module (src/plpy-shim/python/plpy), kept outside it so that
dir(plpy) lists exactly what PL/Python's C module has."""
