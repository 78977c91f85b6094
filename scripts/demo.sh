#!/usr/bin/env bash
# Run the daemon on its embedded default: SQLite, a drop folder and an SMTP ingress on
# localhost, acknowledgements captured by a local mail sink. Feeds it the sample requests
# (three through the drop folder, three over SMTP with a real client) and shows the tickets.
# DEMO_EXIT=1 stops it afterwards (CI); otherwise it keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

data=${DEMO_DIR:-demo-data}
smtp_port=${DEMO_SMTP_PORT:-8025}
sink_port=${DEMO_SINK_PORT:-8026}
rm -rf "$data"; mkdir -p "$data/drop"
cat > "$data/config.toml" <<TOML
# Written by scripts/demo.sh: the embedded default. See config.example.toml for every key.
[database]
url = "sqlite:///tickets.db"      # relative paths are relative to this file

[storage]
dir = "store"

[[sources]]
name = "drop"
kind = "folder"
path = "drop"
poll_interval_s = 1

[[sources]]
name = "ingress"
kind = "smtp"
listen = "127.0.0.1:$smtp_port"
recipients = ["segnalazioni@example.it", "fax@example.it"]
channels = { "fax@example.it" = "fax" }

[acknowledgements]
enabled = true
from = "segnalazioni@example.it"
smtp = { host = "127.0.0.1", port = $sink_port, tls = "none" }
emergency_phone = "800 123 456"

# Smistamento: emergencies alert the on-call crew at once (caught by the same sink), crimes go
# to a queue of their own and are forwarded to the local police, the rest to maintenance.
[[routing]]
match = { urgency = "emergenza" }
queue = "reperibilita"
notify = ["reperibile@example.it"]

[[routing]]
match = { criminal_event = true }
queue = "sicurezza"
forward = ["polizia.locale@comune.example.it"]

[[routing]]
queue = "manutenzione"
TOML

py=.venv/bin/python
daemon=(.venv/bin/inbox-daemon --config "$data/config.toml")
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$py -m aiosmtpd -n -l "127.0.0.1:$sink_port" -c aiosmtpd.handlers.Mailbox "$data/acks.mbox" &
pids+=($!)
"${daemon[@]}" run 2> >(tee "$data/daemon.log" >&2) &
pids+=($!)

$py - "$smtp_port" <<'PY'
import socket, sys, time
deadline = time.time() + 60
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("demo: the SMTP ingress did not start; see demo-data/daemon.log")
        time.sleep(0.3)
PY

echo "demo: dropping 3 messages into $data/drop and sending 3 over SMTP" >&2
for f in tests/data/demo/0[1-3]-*.eml; do
  cp "$f" "$data/drop/.$(basename "$f")"; mv "$data/drop/.$(basename "$f")" "$data/drop/$(basename "$f")"
done
$py - "$smtp_port" tests/data/demo/0[4-6]-*.eml <<'PY'
import smtplib, sys
from email.parser import BytesHeaderParser
port, files = int(sys.argv[1]), sys.argv[2:]
with smtplib.SMTP("127.0.0.1", port) as client:
    for name in files:
        raw = open(name, "rb").read()
        sender = BytesHeaderParser().parsebytes(raw)["From"].split("<")[-1].strip(">")
        client.sendmail(sender, ["segnalazioni@example.it"], raw)
PY

for _ in $(seq 1 120); do
  count=$("${daemon[@]}" -q tickets list | wc -l)
  [ "$count" -ge 6 ] && break
  sleep 0.5
done
echo; echo "== tickets =="; "${daemon[@]}" -q tickets list
echo; echo "== first ticket, in full =="; "${daemon[@]}" -q tickets show "$(date +%Y)/1" | head -30
sleep 2
echo; echo "== acknowledgements, alerts and forwards sent (captured in $data/acks.mbox) =="
# aiosmtpd's Mailbox handler writes a maildir (one file per message), and a long Subject is folded.
grep -rl '^Auto-Submitted: auto-replied' "$data/acks.mbox" 2>/dev/null | wc -l
"${daemon[@]}" -q outbox list
[ "$count" -ge 6 ] || { echo "demo: expected 6 tickets, found $count" >&2; exit 1; }

if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo; echo "The daemon keeps running: drop .eml files into $data/drop or send mail to" \
  "127.0.0.1:$smtp_port; 'inbox-daemon --config $data/config.toml tickets list' shows them. Ctrl-C stops." >&2
wait "${pids[1]}"
