#!/usr/bin/env bash
# Build and install the PostgreSQL 15 twins of the extensions pyglite serves itself (today
# extensions/numpy_plpython3u, docs/columns.md) into Debian's PostgreSQL 15, the reference the tests and
# benchmarks compare with. Needs postgresql-server-dev-15 and root (or sudo) to install. Idempotent and
# quick when nothing changed: make rebuilds nothing, and the install is skipped when the installed
# files already equal the built ones. .ci/run calls it before npm test.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
# with_llvm=no: no JIT bitcode (the reference runs with jit = off)
MAKEFLAGS_PG=(PG_CONFIG="$PG_CONFIG" with_llvm=no)

for ext in extensions/*/; do
  name=$(basename "$ext")
  make -s -C "$ext" "${MAKEFLAGS_PG[@]}" >/dev/null
  libdir=$("$PG_CONFIG" --pkglibdir)
  sharedir=$("$PG_CONFIG" --sharedir)/extension
  up_to_date=1
  for so in "$ext"*.so; do cmp -s "$so" "$libdir/$(basename "$so")" || up_to_date=0; done
  for f in "$ext"*.control "$ext"*--*.sql; do cmp -s "$f" "$sharedir/$(basename "$f")" || up_to_date=0; done
  if [ $up_to_date = 0 ]; then
    $SUDO make -s -C "$ext" "${MAKEFLAGS_PG[@]}" install >/dev/null
    echo "installed $name into $("$PG_CONFIG" --version)"
  fi
done
