"""A real browser (Debian's chromium, headless, driven by Playwright) on a small phone's
screen: it opens a label's page, fills the form with the keyboard and pointer, sends it and
reads the number; the layout fits the screen and axe-core finds no WCAG 2.1 AA violation."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.web.conftest import WebSite

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = {"width": 360, "height": 640}  # a small phone, in CSS pixels
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def browser(tmp_path: Path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/setup.sh test installs it)")
    with playwright.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
            locale="it-IT",
        )  # fmt: skip
        yield context
        context.close()


def violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG_AA)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def fits_the_screen(page) -> None:
    """No horizontal scrolling: the full-page screenshot is as wide as the screen, and every
    field lies inside it."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    assert shot.width == PHONE["width"], (
        f"page is {shot.width}px wide on a {PHONE['width']}px screen"
    )
    for selector in ("#code", "#text", "#name", "#email", "#phone", "#photo", "button"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector


def test_a_phone_opens_the_label_page_reports_and_reads_the_number(site: WebSite, browser):
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{site.ingress.port}/p/IP-004512")
    assert page.locator("#palo-indirizzo").inner_text() == "Palo IP-004512: Via Roma 12, Bologna"
    assert page.locator("#code").input_value() == "IP-004512"
    fits_the_screen(page)
    assert violations(page) == []
    page.get_by_label("Il lampione è spento").check()
    page.get_by_label("Descrizione").fill("Spento da tre sere davanti al civico 12.")
    page.get_by_label("Nome e cognome").fill("Maria Bianchi")
    page.get_by_label("E-mail").fill("maria.bianchi@example.org")
    page.locator("button[type=submit]").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # sent from the keyboard alone
    assert page.locator("h1").inner_text() == "Segnalazione registrata", page.content()[:3000]
    number = page.locator("#ticket-number").inner_text()
    [ticket] = site.tickets()
    assert number == ticket.number
    assert (ticket.channel, ticket.pole_codes, ticket.details["fault"]) == (
        "web", ["IP-004512"], ["spenta"],
    )  # fmt: skip
    assert violations(page) == []


def test_a_form_with_mistakes_says_so_accessibly(site: WebSite, browser):
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{site.ingress.port}/")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.locator(".errori").is_visible()
    assert page.locator("#name").get_attribute("aria-invalid") == "true"
    fits_the_screen(page)
    assert violations(page) == []
    assert site.messages() == []
