#!/usr/bin/env bash
# The build's packages, checked against tools/dev deps: every path outside
# the repository that WORKSPACE, .bazelrc, the BUILD and .bzl files name,
# every system header the sources include, every pkg-config module and every
# program the build runs must belong to a Debian package that `tools/dev
# deps` installs (directly, or as a dependency of one it installs). A fresh
# machine then has everything after `tools/dev deps`.
#
# Runs outside the sandbox (tag "local"): it reads the real source tree,
# found through the WORKSPACE file in its runfiles, and dpkg's database.
set -uo pipefail

ws_file="$(readlink -f "${TEST_SRCDIR:-.}/slotkeeper/WORKSPACE" 2>/dev/null || true)"
[ -f "$ws_file" ] || ws_file="$(readlink -f WORKSPACE)"
ROOT="$(dirname "$ws_file")"
cd "$ROOT" || exit 1

if ! command -v dpkg-query >/dev/null; then
  echo "SKIP: not a Debian system (no dpkg-query)"
  exit 0
fi

# The packages tools/dev deps installs: the PACKAGES=( ... ) array.
mapfile -t listed < <(awk '/^PACKAGES=\(/ {on=1; next} on && /^\)/ {exit}
  on { sub(/#.*/, ""); for (i = 1; i <= NF; i++) print $i }' tools/dev)
if [ "${#listed[@]}" -lt 5 ]; then
  echo "FAIL: could not read the PACKAGES list from tools/dev"
  exit 1
fi

# Everything those packages pull in (Depends and Pre-Depends, recursively,
# as installed here): a file may come from a dependency (libfmt-dev's headers
# through libspdlog-dev). Recommends do not count: deps installs without them.
declare -A closure=()
queue=("${listed[@]}")
while [ "${#queue[@]}" -gt 0 ]; do
  p="${queue[0]}"; queue=("${queue[@]:1}")
  p="${p%%:*}"
  [ -n "${closure[$p]:-}" ] && continue
  closure[$p]=1
  deps="$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null || true)"
  while IFS= read -r d; do
    d="$(sed -E 's/\(.*\)//; s/\|.*//; s/:any//; s/^ +//; s/ +$//' <<<"$d")"
    [ -n "$d" ] && [ -z "${closure[$d]:-}" ] && queue+=("$d")
  done < <(tr ',' '\n' <<<"$deps")
done

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A file must be owned by a package in the closure (or by an essential one:
# libc's headers and the like are on every Debian system).
check_path() {
  local what="$1" path="$2" owners pkg ok=0
  if [ ! -e "$path" ]; then
    fail "$what: $path does not exist on this machine"
    return
  fi
  owners="$(dpkg-query -S "$path" 2>/dev/null | sed -E 's/: .*//' | tr ',' '\n' | sed -E 's/^ +//; s/:.*//')"
  if [ -z "$owners" ] && [[ "$path" == /usr/* ]]; then
    # Merged /usr: dpkg may know the file as /sbin/... or /bin/...
    owners="$(dpkg-query -S "${path#/usr}" 2>/dev/null | sed -E 's/: .*//' | tr ',' '\n' | sed -E 's/^ +//; s/:.*//')"
  fi
  if [ -z "$owners" ]; then
    # A symlink (e.g. /usr/bin/g++) may be registered under its target.
    owners="$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | sed -E 's/: .*//' | tr ',' '\n' | sed -E 's/^ +//; s/:.*//')"
  fi
  if [ -z "$owners" ]; then
    fail "$what: $path belongs to no Debian package (installed by hand?)"
    return
  fi
  for pkg in $owners; do
    if [ -n "${closure[$pkg]:-}" ] ||
       [ "$(dpkg-query -W -f='${Essential}${Priority}' "$pkg" 2>/dev/null)" = "yesrequired" ]; then
      ok=1
    fi
  done
  [ "$ok" = 1 ] || fail "$what: $path comes from $(tr '\n' ' ' <<<"$owners")which tools/dev deps does not install"
}

# 1. Absolute paths named by the build files.
while IFS= read -r path; do
  check_path "build file" "$path"
done < <(grep -rhoE '"/(usr|etc|opt|lib)[^"]*"' WORKSPACE .bazelrc bazel --include=WORKSPACE --include=.bazelrc --include='*.bzl' --include='BUILD*' 2>/dev/null |
         tr -d '"' | sort -u; find . -name 'BUILD.bazel' -not -path './bazel-*' -exec grep -hoE '"/(usr|etc|opt|lib)[^"]*"' {} + | tr -d '"' | sort -u)

# 2. System headers the sources include (everything not from this tree),
#    looked up on the C++ compiler's own search path.
mapfile -t include_dirs < <(g++ -xc++ -E -Wp,-v - </dev/null 2>&1 | awk '/^ \// {print $1}')
while IFS= read -r header; do
  found=""
  for dir in "${include_dirs[@]}"; do
    if [ -e "$dir/$header" ]; then found="$dir/$header"; break; fi
  done
  if [ -z "$found" ]; then
    fail "header <$header> is not on the compiler's include path"
  else
    check_path "header <$header>" "$found"
  fi
done < <(find base proto slotmgr replicator tools tests -name '*.cc' -o -name '*.h' | xargs grep -hoE '^#include [<"][^">]+[>"]' |
         sed -E 's/^#include [<"]//; s/[>"]$//' |
         grep -vE '^(base|proto|slotmgr|replicator|tools|tests)/' | grep -vE '\.pb\.h$' | sort -u)

# 3. pkg-config modules of the WORKSPACE's system_libs, through their .pc files.
while IFS= read -r module; do
  pc="$(pkg-config --variable=pcfiledir "$module" 2>/dev/null)/$module.pc"
  if [ ! -f "$pc" ]; then fail "pkg-config module $module not found"; continue; fi
  check_path "pkg-config $module" "$pc"
done < <(awk '/libraries = \{/ {on=1} on && /^    \},/ {exit} on' WORKSPACE |
         sed -E 's/"[a-z0-9_+-]+": *\[//' | grep -oE '"[a-z0-9_+-]+"' | tr -d '"' | sort -u)

# 4. Programs the build and the tests run.
for prog in bazel protoc grpc_cpp_plugin pkg-config g++ gcc clang-14 mkfs.ext4 losetup mount faketime rsync python3 openssl \
            chromium readelf help2man dpkg-deb systemd-analyze systemd-sysusers promtool \
            dovecot doveconf setpriv; do
  # The system's copy: what a fresh machine has (a developer's PATH may put
  # another python3 or bazel first).
  path=""
  for dir in /usr/bin /usr/sbin /bin /sbin; do
    if [ -x "$dir/$prog" ]; then path="$dir/$prog"; break; fi
  done
  if [ -z "$path" ]; then fail "program $prog is not installed"; continue; fi
  check_path "program $prog" "$path"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures problem(s): add the package(s) to PACKAGES in tools/dev"
  exit 1
fi
echo "OK: the build's paths, headers, modules and programs all come from tools/dev deps"
