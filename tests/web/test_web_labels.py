"""From a printed label to the form: with a web source and no `[poles] label`, each label's QR
code holds the pole's page of the form, and that page opens with the pole's code."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

from tests.test_register import decoded_pages
from tests.web.client import Client

pytestmark = pytest.mark.integration


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm (poppler-utils) is missing")
def test_a_labels_qr_code_opens_the_poles_form(start_site, tmp_path, capsys):
    from inbox_daemon.cli import main

    site = start_site()  # its register holds IP-004512 and IP-004513
    pdf = tmp_path / "labels.pdf"
    config = tmp_path / "web.toml"  # the site's store, as a file for the command line
    config.write_text(
        f'[database]\nurl = "{site.ctx.config.database.url}"\n'
        f'[storage]\ndir = "{site.ctx.config.storage.dir}"\n'
        '[[sources]]\nname = "web"\nkind = "web"\nbase_url = "https://segnalazioni.example.it"\n'
    )
    assert main(["--config", str(config), "labels", "--all", "--out", str(pdf)]) == 0
    [page] = decoded_pages(pdf, tmp_path)
    assert sorted(page) == [
        "https://segnalazioni.example.it/p/IP-004512",
        "https://segnalazioni.example.it/p/IP-004513",
    ]
    for url in page:
        form = Client(site.ingress.port).get(urlsplit(url).path)
        code = url.rpartition("/")[2]
        assert form.status == 200 and f'value="{code}"' in form.body
        assert form.by_id("palo-indirizzo").startswith(f"Palo {code}: Via Roma")


def test_a_code_with_slashes_arrives_whole(site):
    form = site.client.get("/p/PL%2FMI%2F0042")
    assert form.status == 200
    assert 'name="code" type="text" value="PL/MI/0042"' in form.body
