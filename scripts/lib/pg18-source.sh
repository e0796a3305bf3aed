# Sourced by scripts/get-pg18-*.sh: fetch PostgreSQL 18.6's source tarball from Debian's postgresql-18 source
# package. The apt mirror is read from this machine's own apt sources at run time and used through a private
# sources list (the system's apt state is not touched); nothing of it is committed (../shared/DESIGN.md §5).
#
#   pg18_source WORK NAME   downloads into WORK (a fresh directory) and prints the .orig tarball's path;
#                           NAME prefixes error messages. Writes WORK/apt.log; exits the script on failure.
#   pg18_once DEST SHOWN    for a script that makes DEST once: if the script's `complete DEST` holds, prints
#                           SHOWN and exits; else takes DEST.lock (test files run in parallel may ask at the
#                           same time: one makes it, the others wait for it) and checks again. The lock is held
#                           until the script exits.
PG18_VERSION=18.6

pg18_source() {
  local work=$1 name=$2 mirror
  # deb822 (URIs: …) and one-line (deb …) sources alike; the first non-security Debian archive
  mirror=$({ grep -rhoE '^(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null || true; } | awk '{print $2}' | grep -v security | head -1)
  [ -n "$mirror" ] || { echo "$name: no Debian mirror in /etc/apt/sources.list(.d)" >&2; exit 1; }
  printf 'deb-src %s sid main\n' "$mirror" >"$work/sources.list"
  mkdir -p "$work/lists/partial"
  local apt_opts=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists")
  apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
  (
    cd "$work"
    # the exact release when the mirror still has it, else the newest postgresql-18 source
    apt-get "${apt_opts[@]}" source --download-only "postgresql-18=$PG18_VERSION-3" >>apt.log 2>&1 ||
      apt-get "${apt_opts[@]}" source --download-only postgresql-18 >>apt.log 2>&1
  ) || { cat "$work/apt.log" >&2; exit 1; }
  ls "$work"/postgresql-18_*.orig.tar.* | head -1
}

pg18_once() {
  complete "$1" && { echo "$2"; exit 0; }
  mkdir -p "$(dirname "$1")"
  exec 9>"$1.lock"
  flock 9
  complete "$1" && { echo "$2"; exit 0; }
  return 0
}
