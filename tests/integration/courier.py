"""A throwaway Courier-IMAP on loopback: the second real IMAP server of the tests, the one that
differs from Dovecot where PEC providers and municipal servers do. No MOVE (RFC 6851);
personal folders only under the `INBOX.` namespace, so `CREATE Processed` answers `NO Invalid
mailbox name.`; and, with `keywords=False` (Courier's IMAP_KEYWORDS=0), no keywords at all:
PERMANENTFLAGS lacks `\\*` and `STORE +FLAGS ($InboxDaemon)` is refused.

Courier-IMAP conflicts with dovecot-imapd as an installed Debian package, so its binaries
are unpacked, not installed, by scripts/fetch-test-servers.sh into .cache/test-servers/courier,
and run from there with LD_LIBRARY_PATH. The server is Courier's own pair: `couriertcpd`
accepts the connections and `imapd` serves each session, configured as Debian configures it
(the package's /etc/courier/imapd, read as the init script reads it). Only the login step in
between is ours (courier_login.py: Courier's `imaplogin` needs a system-wide authdaemond).
Any user name logs in with PASSWORD, as on the test Dovecot, and gets a fresh maildir.

Everything lives in one temporary folder: maildirs, the shared-folder index and the log.
`couriertcpd` runs in its own session with every imapd below it, and gam_server (the file
monitor behind IDLE) in another: `stop()` and `kill()` end them all.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from integration.dovecot import PASSWORD, Dovecot, dying_with_us, free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
UNPACKED = REPO / ".cache" / "test-servers" / "courier"
IMAPD = UNPACKED / "usr" / "bin" / "imapd"
TCPD = UNPACKED / "usr" / "sbin" / "couriertcpd"
GAM_SERVER = UNPACKED / "usr" / "libexec" / "gam_server"
DEBIAN_SETTINGS = UNPACKED / "etc" / "courier" / "imapd"
LOGIN = Path(__file__).with_name("courier_login.py")


def missing() -> str | None:
    """Why the unpacked Courier cannot run here, or None when it can."""
    if not IMAPD.exists() or not TCPD.exists():
        return f"Courier-IMAP is not unpacked in {UNPACKED}: run scripts/fetch-test-servers.sh"
    done = subprocess.run(
        [str(IMAPD), "--version"], env={"LD_LIBRARY_PATH": _library_path()},
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 or "Courier-IMAP" not in done.stdout:
        return f"the unpacked Courier imapd does not run: {(done.stderr or done.stdout).strip()}"
    return None


def _library_path() -> str:
    """authlib's folder and the multiarch one (x86_64-linux-gnu, aarch64-linux-gnu...)."""
    folders = [UNPACKED / "usr" / "lib", *sorted((UNPACKED / "usr" / "lib").glob("*-linux-*"))]
    return ":".join(str(folder) for folder in folders)


def debian_settings() -> dict[str, str]:
    """The IMAP_* settings of Debian's /etc/courier/imapd, as its init script gives them to
    imapd: the file is shell, so a shell reads it."""
    done = subprocess.run(
        ["sh", "-c", 'set -a && . "$1" && exec env -0', "sh", str(DEBIAN_SETTINGS)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, capture_output=True, check=True,
    )  # fmt: skip
    pairs = (item.decode().partition("=") for item in done.stdout.split(b"\0") if item)
    return {key: value for key, _, value in pairs if key.startswith("IMAP_")}


class Courier:
    """One Courier-IMAP instance: `start()`, `stop()`, `kill()`, `restart()`, and the same
    mail helpers as `Dovecot` (`client`, `append`, `flags`, `count`...)."""

    def __init__(self, root: Path, keywords: bool = True):
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.keywords = keywords
        self.process: subprocess.Popen[bytes] | None = None  # couriertcpd
        self.monitor: subprocess.Popen[bytes] | None = None  # gam_server
        (root / "mail").mkdir(parents=True, exist_ok=True)
        self.log = root / "imapd.log"

    # The helpers speak only IMAP (they log in as any test client would), so Dovecot's serve.
    client = Dovecot.client
    append = Dovecot.append
    flags = Dovecot.flags
    count = Dovecot.count
    uidvalidity = Dovecot.uidvalidity
    delete_folder = Dovecot.delete_folder
    _answers = Dovecot._answers  # the greeting on the port

    def folders(self, user: str) -> list[str]:
        """The user's folders as the server names them (`INBOX`, `INBOX.Processed`)."""
        with self.client(user) as client:
            return sorted(name for _flags, _separator, name in client.list_folders())

    def environment(self) -> dict[str, str]:
        settings = debian_settings()
        settings.update(
            IMAP_KEYWORDS="1" if self.keywords else "0",
            IMAP_SHAREDINDEXFILE=str(self.root / "shared-index"),  # not /etc/courier/shared
        )
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LD_LIBRARY_PATH": _library_path(),
            "GAMIN_DEBUG_SERVER": str(GAM_SERVER),  # instead of /usr/libexec/gam_server
            "GAM_CLIENT_ID": self.root.name,  # one gam_server per instance, not per user
            "COURIER_TEST_MAIL": str(self.root / "mail"),
            "COURIER_TEST_PASSWORD": PASSWORD,
            "COURIER_TEST_IMAPD": str(IMAPD),
            **settings,
        }

    def start(self, timeout: float = 15.0) -> None:
        env = self.environment()
        log = open(self.log, "ab")  # noqa: SIM115 - kept by the children
        self._start_monitor(env, log, timeout)
        command = [
            str(TCPD), f"-address={self.host}", "-maxprocs=200", "-maxperip=200",
            "-nodnslookup", "-noidentlookup", f"-stderr={self.log}", str(self.port),
            sys.executable, "-I", str(LOGIN),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            dying_with_us(command),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait(self.process, self._answers, timeout, f"an answer on port {self.port}")

    def _start_monitor(self, env: dict[str, str], log: IO[bytes], timeout: float) -> None:
        """gam_server, started here and ready before the first imapd: an imapd that finds
        none forks one itself, in a session of its own that no stop would reach."""
        self.monitor = subprocess.Popen(
            dying_with_us([str(GAM_SERVER), "--notimeout", env["GAM_CLIENT_ID"]]),
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        name = f"@/tmp/fam-{pwd.getpwuid(os.geteuid()).pw_name}-{env['GAM_CLIENT_ID']}"

        def listening() -> bool:  # an abstract socket: listed, never a file
            return name in Path("/proc/net/unix").read_text()

        _wait(self.monitor, listening, timeout, f"gam_server's socket {name}")

    def stop(self) -> None:
        """Stop couriertcpd and every session it started (it passes SIGTERM on to them)."""
        for process in (self.process, self.monitor):
            if process is not None:
                stop_process_group(process, signal.SIGTERM)
        self.process = self.monitor = None

    def kill(self) -> None:
        """Crash: SIGKILL couriertcpd and every imapd at once, mid-command if need be."""
        for process in (self.process, self.monitor):
            if process is not None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.process = self.monitor = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _wait(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float, what: str
) -> None:
    """Until `ready()`; an error naming `what` if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} in {timeout} s")
        time.sleep(0.02)


@contextmanager
def running_courier(keywords: bool = True) -> Iterator[Courier]:
    """A started Courier-IMAP in a fresh temporary folder, removed afterwards. Callers skip
    when `missing()` gives a reason."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory(prefix="inbox-courier-", ignore_cleanup_errors=True) as folder:
        server = Courier(Path(folder), keywords=keywords)
        server.start()
        try:
            yield server
        finally:
            server.stop()
