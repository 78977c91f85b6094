"""The login step of the throwaway Courier-IMAP (see courier.py), run by `couriertcpd` once per
connection with the socket as standard input and output.

Courier's own `imaplogin` checks the password through `authdaemond`, whose socket path is
compiled into courier-authlib (/run/courier/authdaemon): a private, unprivileged server cannot
have it. This program plays `imaplogin`'s part and nothing more: it greets, answers CAPABILITY,
NOOP and LOGOUT, checks LOGIN against one password, makes the user's maildir, and then hands
the connection to Courier's real `imapd` exactly as `imaplogin` does (exec, with AUTHENTICATED
and IMAPLOGINTAG set), so everything after login is Courier's.

Standard library only, read byte by byte: nothing the client sends after LOGIN may be read
here, since it belongs to imapd.
"""

from __future__ import annotations

import os
import re
import sys

SAFE_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def read_line() -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        line += _read(1)
    return bytes(line)


def _read(size: int) -> bytes:
    try:
        data = os.read(0, size)
    except ConnectionError:
        data = b""
    if not data:
        sys.exit(0)  # the client went away (a probe that only wanted the greeting)
    return data


def reply(text: str) -> None:
    os.write(1, text.encode() + b"\r\n")


def read_command() -> list[bytes]:
    """One command as words: atoms, quoted strings and literals ({n}, after a `+`)."""
    words: list[bytes] = []
    line = read_line()
    while True:
        literal = re.search(rb"\{(\d+)\}\r?\n$", line)
        words += _words(line[: literal.start()] if literal else line)
        if not literal:
            return words
        reply("+ OK")
        size, data = int(literal.group(1)), b""
        while len(data) < size:
            data += _read(size - len(data))
        words.append(data)
        line = read_line()


def _words(text: bytes) -> list[bytes]:
    found = re.findall(rb'"((?:[^"\\]|\\.)*)"|([^\s"]+)', text)
    return [re.sub(rb"\\(.)", rb"\1", quoted) if quoted else atom for quoted, atom in found]


def log_in(tag: str, user: str) -> None:
    """Become Courier's imapd for `user`, in a maildir made on first login."""
    home = os.path.join(os.environ["COURIER_TEST_MAIL"], user)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(home, "Maildir", sub), exist_ok=True)
    os.chdir(home)
    imapd = os.environ["COURIER_TEST_IMAPD"]
    env = {**os.environ, "AUTHENTICATED": user, "IMAPLOGINTAG": tag, "HOME": home}
    os.execve(imapd, [imapd, "Maildir"], env)


def main() -> None:
    capability = os.environ["IMAP_CAPABILITY"]
    reply(f"* OK [CAPABILITY {capability}] Courier-IMAP ready (test login).")
    while True:
        words = read_command()
        tag = words[0].decode(errors="replace") if words else "*"
        verb = words[1].decode(errors="replace").upper() if len(words) > 1 else ""
        if verb == "CAPABILITY":
            reply(f"* CAPABILITY {capability}")
            reply(f"{tag} OK CAPABILITY completed")
        elif verb == "NOOP":
            reply(f"{tag} OK NOOP completed")
        elif verb == "LOGOUT":
            reply("* BYE Courier-IMAP server shutting down")
            reply(f"{tag} OK LOGOUT completed")
            return
        elif verb == "LOGIN" and len(words) == 4:
            user, password = words[2].decode(errors="replace"), words[3].decode()
            if password == os.environ["COURIER_TEST_PASSWORD"] and SAFE_USER.fullmatch(user):
                log_in(tag, user)
            reply(f"{tag} NO Login failed.")
        else:
            reply(f"{tag} BAD Error in IMAP command received by server.")


if __name__ == "__main__":
    main()
