#!/usr/bin/env bash
# Unpack a second IMAP server for the tests into .cache/test-servers/, without installing it:
# Courier-IMAP conflicts with dovecot-imapd as an installed package, so its binaries and the
# libraries they need are fetched with `apt-get download` and unpacked with `dpkg -x`.
# tests/integration/courier.py runs them from there. Safe to run again: once a folder is
# complete (its stamp names the packages it holds), nothing is downloaded.
#   scripts/fetch-test-servers.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cache=.cache/test-servers
dest=$cache/courier
# imapd and couriertcpd; their libraries (authlib's, courier-unicode, libidn, gamin for
# IDLE); gam_server itself. Debian's libc, libstdc++ and libgdbm are taken from the system.
packages=(courier-imap courier-base courier-authlib libcourier-unicode4 libidn12 libgamin0 gamin)
dpkg-query -W -f='${Status}' libglib2.0-0 2>/dev/null | grep -q "install ok installed" ||
  packages+=(libglib2.0-0)  # gam_server's only library beyond libc
stamp="$dest/.complete"
if [ "$(cat "$stamp" 2>/dev/null)" = "${packages[*]}" ]; then
  exit 0
fi

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
work=$(mktemp -d "${TMPDIR:-/tmp}/test-servers.XXXXXX")
trap 'rm -rf "$work"' EXIT
# As root, apt downloads as its own _apt user, which must be able to write there.
[ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$work"
download() { (cd "$work" && apt-get download -qq "${packages[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true); }
echo "fetch-test-servers: downloading ${packages[*]}" >&2
download
if [ "$(ls "$work"/*.deb 2>/dev/null | wc -l)" -lt "${#packages[@]}" ]; then
  echo "fetch-test-servers: refreshing the package lists, then trying again" >&2
  $sudo apt-get update -qq
  download
fi
if [ "$(ls "$work"/*.deb 2>/dev/null | wc -l)" -lt "${#packages[@]}" ]; then
  echo "fetch-test-servers: apt-get download did not get all of ${packages[*]}" >&2
  exit 1
fi

rm -rf "$dest.new"
mkdir -p "$dest.new"
for deb in "$work"/*.deb; do
  dpkg -x "$deb" "$dest.new"
done
library_path() {  # authlib's folder, and the multiarch one (x86_64-linux-gnu, aarch64-…)
  local path=$1/usr/lib dir
  for dir in "$1"/usr/lib/*-linux-*; do [ -d "$dir" ] && path=$path:$dir; done
  echo "$path"
}
if ! LD_LIBRARY_PATH=$(library_path "$dest.new") "$dest.new/usr/bin/imapd" --version >/dev/null 2>&1; then
  echo "fetch-test-servers: the unpacked imapd does not run; libraries it lacks:" >&2
  LD_LIBRARY_PATH=$(library_path "$dest.new") ldd "$dest.new/usr/bin/imapd" | grep "not found" >&2 || true
  exit 1
fi
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "${packages[*]}" > "$stamp"
version=$(LD_LIBRARY_PATH=$(library_path "$dest") "$dest/usr/bin/imapd" --version)
echo "fetch-test-servers: $version in $dest" >&2
