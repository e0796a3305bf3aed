#!/usr/bin/env bash
# Build PostgreSQL 18.6's pg_dump, pg_dumpall, pg_restore and psql (with their libpq, TLS included) from
# Debian's postgresql-18 source package into DEST, for the tests: Debian bookworm ships pg_dump 15, which
# refuses to dump a PostgreSQL 18 server ("aborting because of server version mismatch"), libpq 15 has no
# direct TLS (sslnegotiation=direct), and the PostgreSQL 18.6 regression suites' expected output is psql
# 18's (its \d of a temporal primary key differs from psql 15's). The apt mirror is read from this
# machine's apt sources; a private sources list is used (the system's apt state is not touched). Needs gcc,
# make, bison, flex and libssl-dev (.ci/run installs them). Takes about 2-3 minutes once; idempotent: prints DEST/bin.
#
# usage: scripts/get-pg18-client.sh [DEST]
#   DEST defaults to $PYGLITE_PG18_CLIENT or ${TMPDIR:-/tmp}/pyglite-pg18-client
set -euo pipefail
. "$(dirname "$0")/lib/pg18-source.sh"
DEST=${1:-${PYGLITE_PG18_CLIENT:-${TMPDIR:-/tmp}/pyglite-pg18-client}}

# a build without TLS or psql (made before they were added: no marker) is made again
MARKER=.with-openssl-psql
complete() {
  [ -x "$1/bin/pg_dump" ] && [ -e "$1/$MARKER" ]
}
pg18_once "$DEST" "$DEST/bin"
for tool in gcc make bison flex; do
  command -v "$tool" >/dev/null || { echo "get-pg18-client: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
rm -rf "$DEST"

work=$(mktemp -d "${TMPDIR:-/tmp}/pg18-client-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/build.log"
tarball=$(pg18_source "$work" get-pg18-client)
tar xf "$tarball" -C "$work"
src=$(ls -d "$work"/postgresql-18*/ | head -1)
(
  cd "$src"
  # the client programs only: no server, no optional libraries but OpenSSL
  ./configure --prefix="$DEST" --without-readline --without-icu --without-zlib --with-openssl \
    --without-lz4 --without-zstd
  make -j"$(nproc)" -C src/backend generated-headers
  make -j"$(nproc)" -C src/interfaces/libpq install
  make -j"$(nproc)" -C src/bin/pg_dump install
  make -j"$(nproc)" -C src/bin/psql install
) >>"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
"$DEST/bin/pg_dump" --version >/dev/null
"$DEST/bin/psql" --version >/dev/null
touch "$DEST/$MARKER"
echo "$DEST/bin"
