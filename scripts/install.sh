#!/usr/bin/env bash
# Install inbox-daemon as a system service from this checkout, the way the systemd unit expects:
#   scripts/install.sh                as root: into /, then prints the commands to run next
#   scripts/install.sh --root DIR     into DIR instead (a staging root for a package, or a test)
# It puts the daemon in /opt/inbox-daemon/.venv (its own Python environment), the unit, sysusers
# and tmpfiles snippets under /usr/lib, the README under /usr/share/doc, and the example config
# as /etc/inbox-daemon/config.toml unless one is there already (it never overwrites a config).
# Safe to run again to upgrade: the environment is rebuilt, the configuration kept.
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | cut -c3-; exit 0 ;;
    *) echo "install: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  echo "install: installing into / needs root: run it as root, or give --root DIR" >&2
  exit 1
fi
root="${root%/}"

scripts/setup.sh  # the Debian packages the daemon needs, and a Python of at least 3.11
python=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')

opt="$root/opt/inbox-daemon"
echo "install: building $opt/.venv" >&2
rm -rf "$opt/.venv"
mkdir -p "$opt"
"$python" -m venv "$opt/.venv"
if ! "$opt/.venv/bin/python" -m pip install --disable-pip-version-check --quiet . \
     > "$opt/pip.log" 2>&1; then
  tail -n 30 "$opt/pip.log" >&2
  echo "install: pip failed; the whole log is in $opt/pip.log" >&2
  exit 1
fi
"$opt/.venv/bin/inbox-daemon" --help >/dev/null  # fail here, clearly, if it does not run

install -D -m 0644 systemd/inbox-daemon.service "$root/usr/lib/systemd/system/inbox-daemon.service"
install -D -m 0644 systemd/inbox-daemon.sysusers "$root/usr/lib/sysusers.d/inbox-daemon.conf"
install -D -m 0644 systemd/inbox-daemon.tmpfiles "$root/usr/lib/tmpfiles.d/inbox-daemon.conf"
install -D -m 0644 README.md "$root/usr/share/doc/inbox-daemon/README.md"
install -D -m 0644 config.example.toml "$root/usr/share/doc/inbox-daemon/config.example.toml"
install -d -m 0750 "$root/etc/inbox-daemon"
if [ -e "$root/etc/inbox-daemon/config.toml" ]; then
  echo "install: $root/etc/inbox-daemon/config.toml exists: kept as it is" >&2
else
  install -m 0640 config.example.toml "$root/etc/inbox-daemon/config.toml"
fi

cat <<EOF
inbox-daemon is installed in $opt. Next, as root:
  systemd-sysusers && systemd-tmpfiles --create      # the inbox-daemon user and its folders
  chgrp inbox-daemon /etc/inbox-daemon /etc/inbox-daemon/config.toml
  \$EDITOR /etc/inbox-daemon/config.toml              # sources, relay, calendar, routing
  $opt/.venv/bin/inbox-daemon --config /etc/inbox-daemon/config.toml check-config
  systemctl daemon-reload && systemctl enable --now inbox-daemon
  journalctl -u inbox-daemon -f                        # what it does
  $opt/.venv/bin/inbox-daemon --config /etc/inbox-daemon/config.toml status
EOF
