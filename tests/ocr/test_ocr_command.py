"""`inbox-daemon ocr FILE...` prints what the stage reads; `check-config` sees the programs."""

from __future__ import annotations

import json

from inbox_daemon.cli import main
from inbox_daemon.errors import ExitCode
from tests.conftest import BASE_CONFIG
from tests.ocr import faxpages as fp


def test_ocr_command_prints_text_codes_and_qr(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(BASE_CONFIG, encoding="utf-8")
    page = tmp_path / "fax.tif"
    page.write_bytes(fp.tiff([fp.page(fp.REQUEST, qr="https://cc.example.it/p/IP-000102")]))
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00broken")
    code = main(["--config", str(config), "-q", "ocr", "--json", str(page), str(broken)])
    read, refused = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == ExitCode.input_not_stored  # one file could not be read at all
    assert read["codes"] == ["IP-000102", "IP-004512"]  # the QR label's first
    assert read["qr"] == ["https://cc.example.it/p/IP-000102"]
    assert "spento da tre giorni" in read["pages"][0]["text"]
    assert refused["error"] and refused["pages"] == []


def test_check_config_accepts_a_fax_source_where_the_programs_are(tmp_path, capsys):
    config = tmp_path / "config.toml"
    source = '[[sources]]\nname = "fax"\nkind = "folder"\npath = "d"\nchannel = "fax"\n'
    config.write_text(BASE_CONFIG + source + 'fax_profile = "hylafax"\n', encoding="utf-8")
    assert main(["--config", str(config), "check-config"]) == ExitCode.ok
    assert "source fax: folder, channel fax" in capsys.readouterr().out
