#!/usr/bin/env bash
# Installs PostgreSQL and the pgvector extension for tests/python/test_integrations_pgvector.py, on
# Debian 12 as root (only Debian's archive and PyPI reachable). Idempotent: does nothing when the
# extension is there. Debian 12 has no pgvector package for PostgreSQL 15, so this builds Debian's
# own pgvector source package (from the next release's source index, read through a private apt
# source list that leaves the system's apt configuration alone) against postgresql-server-dev.
#
#   scripts/setup_pgvector.sh            # install what is missing
#   PG_MAJOR=16 scripts/setup_pgvector.sh  # another PostgreSQL major (default: newest installed, else 15)
#   PGVECTOR_FORCE=1 scripts/setup_pgvector.sh  # rebuild and reinstall even when present
set -euo pipefail

SOURCE_SUITE=${PGVECTOR_SOURCE_SUITE:-trixie}  # Debian 13: pgvector 0.8.x
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)

newest_pg() { { ls /usr/lib/postgresql 2>/dev/null || true; } | { grep -E '^[0-9]+$' || true; } | sort -n | tail -1; }
PG_MAJOR=${PG_MAJOR:-$(newest_pg)}
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config

have_pgvector() {
  [ -x "$PG_CONFIG" ] &&
    [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ] &&
    [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]
}

if [ -z "${PGVECTOR_FORCE:-}" ] && have_pgvector; then
  echo "setup_pgvector: pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" \
    "$("$PG_CONFIG" --sharedir)/extension/vector.control") is installed for PostgreSQL $PG_MAJOR"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup_pgvector: pgvector is missing and installing it needs root (apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
need=()
for p in "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" gcc make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup_pgvector: apt-get install ${need[*]}"
  "${APT[@]}" update >/dev/null
  "${APT[@]}" install --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SOURCE_SUITE main" \
  >"$work/sources.list"
# A private source list, state and cache: the system's apt lists and sources are not touched.
PRIV=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o APT::Sandbox::User=root
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
echo "setup_pgvector: fetching Debian's pgvector source ($SOURCE_SUITE)"
"${APT[@]}" "${PRIV[@]}" update >/dev/null
# apt checks the files against the signed index; --download-only needs no dpkg-dev
if ! (cd "$work" && "${APT[@]}" "${PRIV[@]}" source --download-only pgvector >"$work/source.log" 2>&1); then
  cat "$work/source.log" >&2
  echo "setup_pgvector: could not download Debian's pgvector source from $SOURCE_SUITE" >&2
  exit 1
fi
orig=$(ls "$work"/pgvector_*.orig.tar.* | head -1)
tar -xf "$orig" -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -1)
# OPTFLAGS="": portable code, as Debian builds it (pgvector picks AVX/F16C paths at run time);
# with_llvm=no: no JIT bitcode, so clang is not needed.
make -C "$src" -j2 PG_CONFIG="$PG_CONFIG" OPTFLAGS="" with_llvm=no >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; exit 1; }
make -C "$src" install PG_CONFIG="$PG_CONFIG" with_llvm=no >>"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; exit 1; }
have_pgvector
echo "setup_pgvector: installed pgvector from $(basename "$orig") for PostgreSQL $PG_MAJOR"
