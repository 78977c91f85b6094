"""A throwaway Dovecot on loopback, for the integration tests and the benchmark.

Everything lives in one temporary folder: configuration, sockets, log, passwd-file and the
maildirs. The server runs in the foreground as a child process (`dovecot -F`) and is stopped,
started and restarted by the tests. Mail is added over IMAP (APPEND), as a real sender's server
would. Any user name logs in with PASSWORD (a static passdb), so each test takes fresh users
and never sees another's mail; a passwd-file would need a reload per added user.

Run as root, Dovecot refuses mail processes with UID 0 and login processes as root: mail then
belongs to the `dovecot` system user and the folder is made traversable for it. Run as anyone
else, every process (master, login, auth, mail) runs as that user: Dovecot's internal and login
users and group are set to it, and no service chroots, so nothing needs root.

Options, off by default (the default server's configuration is CONFIG alone): `without`
advertises Dovecot's own capability list less the named extensions (`imap_capability`), as an
older or smaller server would; `rawlog` records what each session sent, so a test can check
which commands the server was given (`record_commands`, `commands`); `inbox_prefix = "INBOX."`
puts personal folders under INBOX with `.` between levels, as Cyrus and Courier do (a client
that creates `Processed` is refused); `keywords = False` withholds the right to set keywords
(ACL: PERMANENTFLAGS lists only \\Seen and \\Deleted, and Dovecot ignores a keyword STORE).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_max_userip_connections = 200
auth_failure_delay = 0  # and no penalty (anvil): wrong-password tests slow no one
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


NAMESPACE = """\
namespace inbox {{
  inbox = yes
  prefix = {prefix}
  separator = .
}}
"""
NO_KEYWORDS = """\
mail_plugins = acl
protocol imap {{
  mail_plugins = acl imap_acl
}}
plugin {{
  acl = vfile:{root}/global-acl
}}
"""
OWNER_WITHOUT_KEYWORDS = "* owner lrstiekxa\n"  # every right but w: keywords and \Flagged...
SBIN = ("/usr/sbin", "/usr/local/sbin")  # not on an ordinary user's PATH


class NotInstalled(RuntimeError):
    """Dovecot is not on this machine: the tests that need it are skipped, saying so."""


def program(name: str) -> str:
    """Where a Dovecot program is, on PATH or in the sbin folders."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if found is None:
        raise NotInstalled(f"{name} is not installed: apt-get install dovecot-imapd")
    return found


def dying_with_us(command: list[str], signame: str = "TERM") -> list[str]:
    """`command` made to get SIG`signame` when the process that starts it dies (`setpriv
    --pdeathsig`, util-linux): a test run killed mid-way leaves no server behind under PID 1
    holding its port and files. The signal comes when the starting *thread* ends, so servers
    are started from the main thread (every fixture does)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--pdeathsig={signame}", *command] if setpriv else command


PASSWORD = "segreto"  # every user name logs in with it (a static passdb): users are throwaway


def stop_process_group(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Stop a server started in its own session: `first` to its master, a kill if it does not
    exit within 15 s, then a kill to whatever of its group is left (children it abandoned)."""
    group = process.pid  # its own session: the group holds only this instance
    process.send_signal(first)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    """One Dovecot instance: `start()`, `stop()`, `restart()`, users and mail helpers."""

    def __init__(
        self,
        root: Path,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        without: Iterable[str] = (),
        rawlog: bool = False,
        inbox_prefix: str = "",
        keywords: bool = True,
    ):
        self.root = root
        self.inbox_prefix, self.keywords = inbox_prefix, keywords
        self.host = "127.0.0.1"
        self.port = free_port()
        self.imaps_port = free_port() if tls_cert else 0
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.without = frozenset(name.upper() for name in without)
        self.capability: str | None = None  # the advertised list, once `without` trimmed it
        self.rawlog = rawlog
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    # --- server -------------------------------------------------------------------------

    def _write_config(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            uid, gid, internal = owner.pw_uid, owner.pw_gid, "root"
            group, login = "dovecot", "dovenull"
        else:  # one user for everything: no fchown of login sockets, no setuid
            uid, gid, internal = os.geteuid(), os.getegid(), pwd.getpwuid(os.geteuid()).pw_name
            group, login = grp.getgrgid(gid).gr_name, internal
        self.mail_uid, self.mail_gid = uid, gid
        (self.root / "mail").mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chown(self.root / "mail", uid, gid)
        ssl_files = ""
        if self.tls_cert and self.tls_key:
            ssl_files = f"ssl_cert = <{self.tls_cert}\nssl_key = <{self.tls_key}"
        self.config = self.root / "dovecot.conf"
        values = {
            "root": self.root, "uid": uid, "gid": gid, "internal_user": internal,
            "internal_group": group, "login_user": login,
            "port": self.port, "imaps_port": self.imaps_port, "password": PASSWORD,
            "ssl": "yes" if ssl_files else "no", "ssl_files": ssl_files,
        }  # fmt: skip
        text = CONFIG.format(**values)
        if self.capability is not None:  # replaces the list, before and after login alike
            text += f"imap_capability = {self.capability}\n"
        if self.rawlog:  # a session is recorded only if its user's folder exists
            text += f"rawlog_dir = {self.root}/rawlog/%u\n"
        if self.inbox_prefix:
            text += NAMESPACE.format(prefix=self.inbox_prefix)
        if not self.keywords:
            (self.root / "global-acl").write_text(OWNER_WITHOUT_KEYWORDS)
            text += NO_KEYWORDS.format(root=self.root)
        self.config.write_text(text)

    def start(self, timeout: float = 15.0) -> None:
        if self.without and self.capability is None:
            self._trim_capabilities(timeout)
        self._spawn(timeout)

    def _trim_capabilities(self, timeout: float) -> None:
        """Ask this Dovecot, as configured by default, what it advertises after login, and
        advertise that less `without` from now on: the list stays true to the installed
        version. The commands themselves still work (Dovecot only stops announcing them); a
        client must not use what is not announced."""
        self._spawn(timeout)
        try:
            with self.client("capability-probe") as client:
                offered = [name.decode() for name in client.capabilities()]
        finally:
            self.kill()  # it holds nothing worth a clean stop, which takes a second
        missing = self.without - {name.upper() for name in offered}
        if missing:
            raise RuntimeError(f"dovecot does not offer {sorted(missing)} to begin with")
        self.capability = " ".join(name for name in offered if name.upper() not in self.without)
        self._write_config()

    def _spawn(self, timeout: float) -> None:
        log = open(self.root / "dovecot.stdout", "ab")  # noqa: SIM115 - kept by the child
        self.process = subprocess.Popen(
            dying_with_us([program("dovecot"), "-F", "-c", str(self.config)]),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start; see {self.root}/dovecot.log")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port} in {timeout} s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and every process of it, dropping open connections as a real
        restart does (the master alone leaves its imap processes serving their clients)."""
        if self.process is None:
            return
        stop_process_group(self.process, signal.SIGTERM)
        self.process = None
        # The master waits for its children; the port is free once it has exited.
        deadline = time.monotonic() + 10
        while self._answers() and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """Crash: SIGKILL every process of the server at once, mid-command if need be."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(
            [program("doveadm"), "-c", str(self.config), *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout

    # --- users and mail -----------------------------------------------------------------

    @contextmanager
    def client(self, user: str, password: str = PASSWORD) -> Iterator[IMAPClient]:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=60)
        client.normalise_times = False
        client.login(user, password)
        try:
            yield client
        finally:
            with suppress(OSError):
                client.logout()

    def append(
        self,
        user: str,
        messages: Iterable[bytes],
        folder: str = "INBOX",
        flags: tuple[bytes, ...] = (),
        when: datetime | None = None,
    ) -> list[int]:
        """APPEND each message (MULTIAPPEND would be faster, but this is what senders do)."""
        uids = []
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                response = client.append(folder, raw, flags=flags, msg_time=when)
                uids.append(int(response.split(b"APPENDUID ")[1].split()[1].rstrip(b"]")))
        return uids

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            found = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: data[b"FLAGS"] for uid, data in sorted(found.items())}

    def count(self, user: str, folder: str = "INBOX") -> int:
        return len(self.flags(user, folder))

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as client:
            return client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]

    def change_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give `folder` a new UIDVALIDITY (as a server rebuilding its index would)."""
        new = self.uidvalidity(user, folder) + 1000
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
        return new

    def delete_folder(self, user: str, folder: str) -> None:
        with self.client(user) as client:
            client.delete_folder(folder)

    # --- what clients sent (rawlog = True) ----------------------------------------------

    def record_commands(self, user: str) -> None:
        """Record `user`'s sessions from now on (the ones before are forgotten)."""
        if not self.rawlog:
            raise RuntimeError("start this Dovecot with rawlog=True to record commands")
        folder = self.root / "rawlog" / user
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.chown(folder, self.mail_uid, self.mail_gid)

    def commands(self, user: str, timeout: float = 10.0) -> list[str]:
        """The commands `user`'s recorded sessions sent, in order, without tags (`UID COPY
        4,5,6 "Archivio"`), once every session has logged out (the server writes its record
        as it goes). Lines of literals (APPEND's message) are left out."""
        folder = self.root / "rawlog" / user
        deadline = time.monotonic() + timeout
        while True:
            sessions = [_commands(path) for path in sorted(folder.glob("*.in"))]
            if all(session and session[-1] == "LOGOUT" for session in sessions):
                return [command for session in sessions for command in session]
            if time.monotonic() > deadline:
                raise RuntimeError(f"a session of {user} has not logged out; see {folder}")
            time.sleep(0.05)


_COMMAND = re.compile(r"^\d+\.\d+ [A-Z]+\d+ (.+)$")  # "<time> <tag> <command>"; imaplib tags


def _commands(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [m.group(1) for m in map(_COMMAND.match, lines) if m]


@contextmanager
def running_dovecot(
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    without: Iterable[str] = (),
    rawlog: bool = False,
    inbox_prefix: str = "",
    keywords: bool = True,
) -> Iterator[Dovecot]:
    """A started Dovecot in a fresh temporary folder, removed afterwards (see `Dovecot` for
    the options)."""
    program("dovecot")
    root = Path(tempfile.mkdtemp(prefix="inbox-dovecot-"))
    server = Dovecot(
        root, tls_cert, tls_key, without=without, rawlog=rawlog, inbox_prefix=inbox_prefix,
        keywords=keywords,
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
