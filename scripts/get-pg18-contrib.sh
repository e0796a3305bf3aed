#!/usr/bin/env bash
# Fetch the regression suites of PostgreSQL 18.6's contrib extensions (sql/, expected/, data/ and the
# Makefile's REGRESS order as `schedule`, its --load-extension options as `load`) from Debian's
# postgresql-18 source package into DEST/<extension>, at test time: never committed (../shared/DESIGN.md
# §5). The apt mirror is read from this machine's apt sources and used through a private sources list (the
# system's apt state is not touched), as scripts/lib/pg18-source.sh does. Idempotent: prints DEST.
#
# usage: scripts/get-pg18-contrib.sh [DEST]
#   DEST defaults to $PYGLITE_PG18_CONTRIB or ${TMPDIR:-/tmp}/pyglite-pg18-contrib-regress
set -euo pipefail
. "$(dirname "$0")/lib/pg18-source.sh"
DEST=${1:-${PYGLITE_PG18_CONTRIB:-${TMPDIR:-/tmp}/pyglite-pg18-contrib-regress}}
# the suites pyglite runs (test/regress/contrib.test.ts), and the PL/Python transforms'
SUITES="hstore pgcrypto pg_trgm uuid-ossp ltree citext cube earthdistance fuzzystrmatch intarray btree_gin
  btree_gist tablefunc unaccent isn seg hstore_plpython jsonb_plpython ltree_plpython"

complete() {
  [ -f "$1/SOURCE" ] && for s in $SUITES; do [ -s "$1/$s/schedule" ] || return 1; done
}
pg18_once "$DEST" "$DEST"

work=$(mktemp -d "${TMPDIR:-/tmp}/pg18-contrib-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$(pg18_source "$work" get-pg18-contrib)
patterns=()
for s in $SUITES; do
  patterns+=("*/contrib/$s/sql/*" "*/contrib/$s/expected/*" "*/contrib/$s/Makefile")
  case $s in hstore | pg_trgm | ltree | cube | intarray | btree_gist | tablefunc | seg) patterns+=("*/contrib/$s/data/*") ;; esac
done
tar xf "$tarball" -C "$work" --wildcards "${patterns[@]}"
src=$(ls -d "$work"/postgresql-18*/contrib)
rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
for s in $SUITES; do
  d="$DEST.tmp/$s"
  mkdir -p "$d"
  cp -r "$src/$s/sql" "$src/$s/expected" "$d/"
  [ -d "$src/$s/data" ] && cp -r "$src/$s/data" "$d/"
  # REGRESS = a b … (continued lines); pgcrypto's $(CF_PGP_TESTS) is pgp-compression in a zlib build
  awk '/^REGRESS *=/ { on = 1 } on { print; if (!/\\$/) exit }' "$src/$s/Makefile" |
    sed 's/^REGRESS *=//; s/\$(CF_PGP_TESTS)/pgp-compression/' | tr -s ' \\\t' '\n' | grep -v '^$' >"$d/schedule"
  { grep -oE -- '--load-extension=[A-Za-z0-9_-]+' "$src/$s/Makefile" || true; } | sed 's/--load-extension=//' >"$d/load"
done
ls "$work"/postgresql-18_*.dsc | sed 's#.*/##' >"$DEST.tmp/SOURCE"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
complete "$DEST" || { echo "get-pg18-contrib: incomplete suites in $DEST" >&2; exit 1; }
echo "$DEST"
