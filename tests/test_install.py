"""scripts/install.sh into a temporary root: the daemon runs from /opt/inbox-daemon, the unit
points at it, the snippets are where systemd reads them, and a config is never overwritten."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG, REPO

pytestmark = pytest.mark.slow


def test_install_into_a_root_keeps_an_existing_config(tmp_path):
    root = tmp_path / "root"
    (root / "etc/inbox-daemon").mkdir(parents=True)
    (root / "etc/inbox-daemon/config.toml").write_text("# the operator's own\n")
    done = subprocess.run([str(REPO / "scripts" / "install.sh"), "--root", str(root)],
                          capture_output=True, text=True, timeout=900, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "systemctl enable --now inbox-daemon" in done.stdout
    binary = root / "opt/inbox-daemon/.venv/bin/inbox-daemon"
    unit = (root / "usr/lib/systemd/system/inbox-daemon.service").read_text()
    assert "ExecStart=/opt/inbox-daemon/.venv/bin/inbox-daemon run" in unit
    for snippet in (
        "usr/lib/sysusers.d/inbox-daemon.conf",
        "usr/lib/tmpfiles.d/inbox-daemon.conf",
        "usr/share/doc/inbox-daemon/README.md",
        "usr/share/doc/inbox-daemon/config.example.toml",
    ):
        assert (root / snippet).is_file(), snippet
    assert "kept as it is" in done.stderr
    assert (root / "etc/inbox-daemon/config.toml").read_text() == "# the operator's own\n"
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    check = subprocess.run([str(binary), "--config", str(config), "check-config"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0 and "ok" in check.stdout, check.stderr
    if shutil.which("systemd-analyze"):
        add_debian_base(root)
        verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                                 "inbox-daemon.service"], capture_output=True, text=True,
                                timeout=120)  # fmt: skip
        assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr


def add_debian_base(root: Path) -> None:
    """What the machine installed on already has and a staging root lacks: systemd's own
    units (the targets the unit is ordered after) and /bin/kill (ExecReload=), from this
    machine, so that `systemd-analyze verify --root` judges our files on a Debian base."""
    units = root / "usr/lib/systemd/system"
    for unit in Path("/lib/systemd/system").iterdir():
        if not (units / unit.name).exists():
            if unit.is_symlink():
                (units / unit.name).symlink_to(unit.readlink())
            elif unit.is_file():
                shutil.copy(unit, units / unit.name)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(Path("/usr/bin/kill"), root / "usr/bin/kill")
    if not (root / "bin").exists():
        (root / "bin").symlink_to("usr/bin")
