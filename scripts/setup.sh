#!/usr/bin/env bash
# Prepare this checkout on Debian: system packages when missing, a virtual environment in
# .venv, the project installed into it. Safe to run again: it skips what is already there.
#   scripts/setup.sh          what the daemon needs
#   scripts/setup.sh test     also what the tests need (Dovecot, PostgreSQL, swaks, tesseract, …)
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: voicemail recordings to standard WAV; tesseract (Italian and orientation data) and
# poppler: fax pages and photos, PDF pages, pdftotext for signed PDF letters (PEC)
want=(ca-certificates ffmpeg tesseract-ocr tesseract-ocr-ita tesseract-ocr-osd poppler-utils)
if [ "${1:-}" = test ]; then
  want+=(dovecot-imapd postgresql swaks getmail6 isync openssl chromium fonts-dejavu-core
         ghostscript unpaper espeak-ng)  # ghostscript, unpaper: OCRmyPDF in bench/fax_ocr.py;
  # espeak-ng: the phone tests speak their recordings
fi
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$(command -v "$candidate"); break
  fi
done
[ -n "$python" ] || want+=(python3 python3-venv)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    # A minimal Debian has no sudo; without a terminal, sudo could not ask for a password.
    usable=yes
    command -v sudo >/dev/null || usable=no
    [ "$usable" = no ] || [ -t 0 ] || sudo -n true 2>/dev/null || usable=no
    if [ "$usable" = no ]; then
      echo "setup: Debian packages missing: ${missing[*]}; installing them needs root:" >&2
      echo "  su -c 'apt-get update && apt-get install --no-install-recommends ${missing[*]}'" >&2
      echo "setup: run that (or ask the administrator), then run $0${1:+ $1} again" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -n "$python" ] || python=$(command -v python3)

extras=""; [ "${1:-}" = test ] && extras="[test]"
stamp=".venv/.installed$extras"
digest=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python" >&2
  "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "setup: installing Python packages into .venv (log: .venv/pip.log)" >&2
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check -e ".$extras"; } > .venv/pip.log 2>&1; then
    tail -n 30 .venv/pip.log >&2
    echo "setup: pip failed; the whole log is in .venv/pip.log" >&2
    exit 1
  fi
  .venv/bin/python -c 'import inbox_daemon.cli' # fail here, clearly, if the install did not work
  echo "$digest" > "$stamp"
fi
# A second IMAP server for the tests (Courier), unpacked into .cache/: it conflicts with
# Dovecot as an installed package.
if [ "${1:-}" = test ]; then
  scripts/fetch-test-servers.sh || echo "setup: no Courier; its tests will say why they skip" >&2
fi
