#!/usr/bin/env bash
# Fetch PostgreSQL 18.6's PL/Python regression suite (sql/, expected/ and the Makefile's REGRESS order as
# `schedule`, and errcodes.txt for plpy.spiexceptions) from Debian's postgresql-18 source package into
# DEST, at test time: it is never committed (../shared/DESIGN.md §5). The apt mirror is read from this
# machine's own apt sources at run time and used through a private sources list (the system's apt state is
# not touched). Idempotent: prints DEST.
#
# usage: scripts/get-pg18-regress.sh [DEST]
#   DEST defaults to $PYGLITE_PG18_REGRESS or ${TMPDIR:-/tmp}/pyglite-pg18-plpython-regress
set -euo pipefail
. "$(dirname "$0")/lib/pg18-source.sh"
DEST=${1:-${PYGLITE_PG18_REGRESS:-${TMPDIR:-/tmp}/pyglite-pg18-plpython-regress}}

complete() {
  [ -f "$1/errcodes.txt" ] && [ -f "$1/schedule" ] && [ "$(wc -l <"$1/schedule")" -ge 23 ] &&
    [ -d "$1/sql" ] && [ -d "$1/expected" ]
}
pg18_once "$DEST" "$DEST"

work=$(mktemp -d "${TMPDIR:-/tmp}/pg18-regress-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$(pg18_source "$work" get-pg18-regress)
tar xf "$tarball" -C "$work" --wildcards '*/src/pl/plpython/sql/*' '*/src/pl/plpython/expected/*' \
  '*/src/pl/plpython/Makefile' '*/src/backend/utils/errcodes.txt'
src=$(ls -d "$work"/postgresql-18*/src/pl/plpython)
mkdir -p "$DEST.tmp"
cp -r "$src/sql" "$src/expected" "$DEST.tmp/"
# the SQLSTATE list plpy.spiexceptions is generated from (scripts/gen-spiexceptions.mjs --check)
cp "$src/../../backend/utils/errcodes.txt" "$DEST.tmp/"
# REGRESS = plpython_schema plpython_populate … (continued lines) in the Makefile
sed -n '/^REGRESS *=/,/^$/p' "$src/Makefile" | tr -s ' \\\t' '\n' | grep '^plpython_' >"$DEST.tmp/schedule"
ls "$work"/postgresql-18_*.dsc | sed 's#.*/##' >"$DEST.tmp/SOURCE"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
complete "$DEST" || { echo "get-pg18-regress: incomplete suite in $DEST" >&2; exit 1; }
echo "$DEST"
