#!/usr/bin/env bash
# Builds one Debian package from files Bazel built (packaging/BUILD.bazel).
#
#   build_deb.sh OUT.deb CONTROL VERSION_FILE SHARED_LIBS STRICT ITEM...
#
# CONTROL is the package's control file with @VERSION@, @ARCH@, @DEPENDS@
# and @SIZE@ left to fill. STRICT (1 or 0): whether every shared library the
# binaries need must be in SHARED_LIBS (release builds); with 0 (the default
# fastbuild binaries, linked against ~80 shared libraries) the Depends list
# holds only the listed ones. Each ITEM is one of
#   bin:SECTION:DEST:SRC:WHAT an executable (0755) and its man page in
#                             /usr/share/man/manSECTION, made by help2man from
#                             its --help and --version (WHAT: the page's
#                             one-line description)
#   file:MODE:DEST:SRC        a file
#   conf:MODE:DEST:SRC        a file that is a conffile (dpkg keeps local edits)
#   control:NAME:SRC          a maintainer script (postinst, postrm, ...), 0755
#   dir:MODE:DEST             an empty directory
set -euo pipefail
out="$1" control="$2" version_file="$3" shared_libs="$4" strict="$5"
shift 5

stage="$(mktemp -d "${TMPDIR:-/tmp}/slotkeeper-deb.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root/DEBIAN"
umask 022

fail() { echo "build_deb.sh: $(basename "$out"): $*" >&2; exit 1; }

install_file() {  # MODE DEST SRC
  [ -f "$3" ] || fail "$3 (for $2) is not a file"
  mkdir -p "$root$(dirname "$2")"
  cp -L "$3" "$root$2"
  chmod "$1" "$root$2"
}

binaries=()
conffiles=()
for item in "$@"; do
  IFS=: read -r kind a b c d <<<"$item"
  case "$kind" in
    bin)
      install_file 0755 "$b" "$c"
      binaries+=("$b")
      name="$(basename "$b")"
      mkdir -p "$root/usr/share/man/man$a"
      # help2man runs the binary for --help and --version; LC_ALL=C keeps the
      # page free of the builder's locale.
      LC_ALL=C help2man --no-info --section="$a" --output="$stage/$name.$a" \
        --name="$d" "$root$b" ||
        fail "help2man could not read $name's --help and --version"
      gzip -9n <"$stage/$name.$a" >"$root/usr/share/man/man$a/$name.$a.gz"
      chmod 0644 "$root/usr/share/man/man$a/$name.$a.gz"
      ;;
    file) install_file "$a" "$b" "$c" ;;
    conf) install_file "$a" "$b" "$c"; conffiles+=("$b") ;;
    control) install_file 0755 "/DEBIAN/$a" "$b" ;;
    dir) mkdir -p "$root$b"; chmod "$a" "$root$b" ;;
    *) fail "unknown item \"$item\"" ;;
  esac
done
if [ "${#conffiles[@]}" -gt 0 ]; then printf '%s\n' "${conffiles[@]}" >"$root/DEBIAN/conffiles"; fi

# Depends: the package of each listed library the binaries need.
declare -A lib_package=()
while read -r soname package; do
  [ -z "$soname" ] || [[ "$soname" == \#* ]] && continue
  lib_package[$soname]="$package"
done <"$shared_libs"
declare -A depends=()
for b in "${binaries[@]}"; do
  while read -r soname; do
    if [ -n "${lib_package[$soname]:-}" ]; then
      depends[${lib_package[$soname]}]=1
    elif [ "$strict" = 1 ]; then
      fail "$b needs $soname, which packaging/shared_libs.txt does not list"
    fi
  done < <(readelf -d "$root$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
depends_line="$(printf '%s\n' "${!depends[@]}" | sort | paste -sd, | sed 's/,/, /g')"

version="$(head -n1 "$version_file" | tr -d '[:space:]')"
size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$(dpkg --print-architecture)/" \
    -e "s/@DEPENDS@/$depends_line/" -e "s/@SIZE@/$size/" "$control" | sed '/^Depends: *$/d; s/^Depends: , /Depends: /' >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0r md5sum) \
  >"$root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" >/dev/null
