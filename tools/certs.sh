#!/usr/bin/env bash
# A throwaway certificate authority and the certificates of a development
# cluster, for the demo and the tests (never for production: the CA's key
# lies next to the certificates it signs).
#
#   tools/certs.sh DIR [--coordinator NAME] [--no-roles] [HOST ...]
#
# Makes, in DIR (created 0700):
#   ca.pem, ca.key          the CA (made once; an existing one is reused)
#   HOST.pem, HOST.key      one per host given: SAN DNS:HOST and IP:127.0.0.1
#   NAME.pem, NAME.key      the coordinator (NAME "slotmgr" unless given),
#                           same SANs as a host
#   viewer|operator|admin.pem/.key
#                           one per operator role, SAN DNS:ROLE (the identity
#                           the coordinator's policy maps to that role); not
#                           made with --no-roles
# Run again on the same DIR, it re-issues the named certificates from the
# same CA (a rotation): each file is written aside and renamed into place, so
# a process that re-reads them never sees half a file.
#
# The identity a certificate proves is its first SAN DNS name (see
# base/peer_identity.h); IP:127.0.0.1 lets a client that dials 127.0.0.1
# without knowing the name still check the address.
set -euo pipefail

usage() { echo "usage: $0 DIR [--coordinator NAME] [--no-roles] [HOST ...]" >&2; exit 2; }

[ $# -ge 1 ] || usage
dir="$1"; shift
coordinator="slotmgr"
roles=(viewer operator admin)
hosts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --coordinator) [ $# -ge 2 ] || usage; coordinator="$2"; shift 2 ;;
    --no-roles) roles=(); shift ;;
    -*) echo "$0: unknown flag $1" >&2; usage ;;
    *) hosts+=("$1"); shift ;;
  esac
done

# Names become file names and SANs: letters, digits, '.', '-', '_' only.
for name in "$coordinator" "${hosts[@]}"; do
  if ! [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]]; then
    echo "$0: \"$name\" is not a usable name (letters, digits, . - _; at most 63)" >&2
    exit 2
  fi
done

command -v openssl >/dev/null || { echo "$0: openssl is not installed (tools/dev deps)" >&2; exit 1; }
mkdir -p "$dir"
chmod 700 "$dir"
tmp="$(mktemp -d "$dir/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# Certificates are signed as if a day ago (libfaketime, when installed), so
# their validity starts a day back: a host whose clock lags (the clock-skew
# fault test runs an agent 6 h behind) still accepts its peers'
# certificates, as public CAs backdate theirs for the same reason. Without
# faketime they start now.
sign() {
  if command -v faketime >/dev/null && faketime -f '-1d' openssl "$@" 2>"$tmp/sign.err"; then
    return 0
  fi
  if [ -s "$tmp/sign.err" ]; then
    echo "$0: signing a day back failed ($(head -c 300 "$tmp/sign.err")); signing as of now" >&2
  fi
  openssl "$@"
}

# A step that fails says which (openssl's own chatter is silenced).
trap 'echo "$0: failed: $BASH_COMMAND" >&2' ERR

if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca.key" ]; then
  newkey "$tmp/ca.key"
  sign req -x509 -new -key "$tmp/ca.key" -days 3650 -subj "/CN=slotkeeper dev CA $(date +%s)-$$" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$tmp/ca.pem" 2>/dev/null
  chmod 600 "$tmp/ca.key"
  mv "$tmp/ca.key" "$dir/ca.key"
  mv "$tmp/ca.pem" "$dir/ca.pem"
fi

# issue NAME SAN: NAME.pem and NAME.key signed by the CA.
issue() {
  local name="$1" san="$2"
  newkey "$tmp/$name.key"
  openssl req -new -key "$tmp/$name.key" -subj "/CN=$name" -out "$tmp/$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$san" >"$tmp/$name.ext"
  sign x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$tmp/$name.ext" \
    -out "$tmp/$name.pem" 2>/dev/null
  chmod 600 "$tmp/$name.key"
  # The key first: a reader that sees the new certificate with the old key
  # refuses the pair and keeps what it had until both are new.
  mv "$tmp/$name.key" "$dir/$name.key"
  mv "$tmp/$name.pem" "$dir/$name.pem"
}

for host in "${hosts[@]}"; do issue "$host" "DNS:$host,IP:127.0.0.1"; done
issue "$coordinator" "DNS:$coordinator,IP:127.0.0.1"
for role in "${roles[@]}"; do issue "$role" "DNS:$role"; done
echo "certificates in $dir: CA ca.pem; ${hosts[*]:-no hosts}; coordinator $coordinator; roles ${roles[*]:-none}"
