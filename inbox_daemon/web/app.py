"""The web form's pages (aiohttp): the form, the answer with the number, the status page.

    GET  /                  the report form
    GET  /p/{CODE}          the same with the pole's code filled in (a label's QR code) and,
                            when the register knows the code, the pole's address
    POST /invia             a report: checked, stored durably, then 303 to its answer page
    GET  /ricevuta/{TOKEN}  the answer: the progressive number, the date and time of
                            registration (and the deemed-received time outside service hours)
    GET  /stato/{NUMBER}    ?chiave=KEY: the ticket's status and its changes, nothing else

A report is stored (`GroupCommit`, the SMTP ingress's durable batches) before the answer
says it is received, and becomes a ticket by the same stages as any mail. Its form token's
nonce is its source UID: a POST sent again is stored once and leads to the same answer.
Every page is server-rendered HTML with no script; the Content-Security-Policy allows none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

import rules
from inbox_daemon.config import WebSource
from inbox_daemon.register import LoadedRegister, canonical_code
from inbox_daemon.sources.smtp_commit import GroupCommit
from inbox_daemon.spool import Incoming, Origin
from inbox_daemon.store.types import utcnow
from inbox_daemon.tickets import parse_number
from inbox_daemon.web import form, lookup, message, photo
from inbox_daemon.web.guard import Guards
from inbox_daemon.web.limits import RateLimit, client_address
from inbox_daemon.web.tokens import Signer
from inbox_daemon.web.waiting import Waiters

log = logging.getLogger(__name__)
DRAIN_FACTOR = 4  # an upload up to 4 times the limit is read through before the 413
HONEYPOT = "sito_web"  # hidden from people; a bot that fills every field fills it
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
STATUS_LABELS = {
    "open": "aperta: in attesa di intervento",
    "in_progress": "in lavorazione",
    "closed": "chiusa: intervento concluso",
    "redirected": "da segnalare alle autorità competenti",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A fresh form is the same page but for its token: rendered once (per code and pole address)
# with this in the token's place, then given its own token each time. `/p/{code}` takes any
# code, so only so many are kept.
TOKEN_SLOT = f"token-{secrets.token_hex(16)}"
FRESH_FORMS_KEPT = 256


@dataclass
class Site:
    """Everything the pages need, built once per source (`server.WebIngress`)."""

    config: WebSource
    signer: Signer
    commit: GroupCommit
    register: LoadedRegister
    waiters: Waiters
    guards: Guards
    tz: ZoneInfo
    emergency_phone: str
    on_new: Callable[[], None]
    pages: jinja2.Environment
    limit: RateLimit
    formats: tuple[rules.PoleFormat, ...]
    fresh_forms: dict[tuple[str, str | None], str | None] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return urlsplit(self.config.base_url).hostname or "localhost"


SITE = web.AppKey("site", Site)


def environment(templates: Any) -> jinja2.Environment:
    """The shipped pages, each replaceable by a file of the same name in `templates`."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("inbox_daemon.web", "templates")]
    if templates:
        loaders.insert(0, jinja2.FileSystemLoader(str(templates)))
    # auto_reload off: the pages are read once, not looked up on disk again for every request
    # (a changed template is taken at the next start or reload, with the rest of the config)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )  # fmt: skip
    env.filters["quando"] = lambda at, tz: at.astimezone(tz).strftime("%d/%m/%Y alle %H:%M")
    return env


def make_app(site: Site) -> web.Application:
    app = web.Application(
        client_max_size=site.config.max_body_kb * 1024, middlewares=[_guarded, _headers]
    )
    app[SITE] = site
    app.router.add_get("/", show_form)
    app.router.add_get("/p/{code}", show_form)
    app.router.add_post("/invia", submit)
    app.router.add_get("/ricevuta/{token}", answer)
    app.router.add_get("/stato/{year:\\d{4}}/{seq:\\d{1,6}}", status)
    app.router.add_get("/stile.css", stylesheet)
    return app


def _site(request: web.Request) -> Site:
    return request.app[SITE]


@web.middleware
async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The connection's guard stops its head clock while a handler runs (`guard.py`)."""
    guard = _site(request).guards.of(request.transport)
    if guard is not None:
        guard.handed_over()
    try:
        return await handler(request)
    finally:
        if guard is not None:
            guard.answered()


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; an aiohttp error (413, 404…) as an Italian page."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = render(_site(request), "errore.html", exc.status, _error_text(exc.status))
    except SQLAlchemyError:  # the database is down or locked: say so, and come back later
        log.exception("web: the database could not answer %s %s", request.method, request.path)
        response = render(_site(request), "errore.html", 503, _error_text(503),
                          {"Retry-After": "30"})  # fmt: skip
    response.headers.update({
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",  # status URLs hold keys; no-referrer: Origin null
    })  # fmt: skip
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_text(status: int) -> dict[str, str]:
    if status == 413:
        return {"title": "Invio troppo grande",
                "text": "Il modulo, con la foto, supera la dimensione ammessa. "
                        "Torni indietro e alleghi una foto più piccola."}  # fmt: skip
    if status == 503:
        return {"title": "Servizio momentaneamente non disponibile",
                "text": "Riprovi tra qualche minuto."}  # fmt: skip
    if status in (404, 405):
        return {"title": "Pagina non trovata", "text": "L'indirizzo non corrisponde a una pagina."}
    return {"title": "Richiesta non valida", "text": "La richiesta non è stata capita."}


def render(site: Site, name: str, status: int = 200, values: dict[str, Any] | None = None,
           headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    return _html(_page(site, name, values or {}), status, headers)


def _page(site: Site, name: str, values: dict[str, Any]) -> str:
    return site.pages.get_template(name).render(
        tz=site.tz, emergency_phone=site.emergency_phone, base_url=site.config.base_url,
        **values,
    )  # fmt: skip


def _html(page: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html", headers=headers)


async def show_form(request: web.Request) -> web.Response:
    site = _site(request)
    code = request.match_info.get("code", "")[: form.MAX_CODE].strip()
    # «ip004512» typed by hand is IP-004512, as the rules will read it
    return await form_page(site, {"code": canonical_code(code, site.formats)} if code else {})


async def form_page(
    site: Site, values: dict[str, str], problems: dict[str, str] | None = None,
    status: int = 200, notice: str = "", headers: dict[str, str] | None = None,
) -> web.Response:  # fmt: skip
    """The form, with what was typed and what is wrong with it; a fresh token each time."""
    code = values.get("code", "")
    loop = asyncio.get_running_loop()
    pole = await loop.run_in_executor(None, _pole_address, site, code) if code else None
    fill = {
        "values": values, "problems": problems or {}, "faults": form.FAULTS, "notice": notice,
        "pole": pole, "honeypot": HONEYPOT, "max_photo_mb": site.config.max_photo_kb / 1024,
    }  # fmt: skip
    token = site.signer.form_token()
    if problems or notice or status != 200 or headers or set(values) - {"code"}:
        return render(site, "modulo.html", status, {**fill, "token": token}, headers)
    return _html(_fresh_form(site, (code, pole), fill, token))


def _fresh_form(site: Site, key: tuple[str, str | None], fill: dict[str, Any], token: str) -> str:
    """A form with nothing typed yet, from the page kept rendered with `TOKEN_SLOT` for its
    token. A page is kept once it is known to differ from one rendered afresh by its token
    only (an operator's template may show the token otherwise than as it is: that page is
    rendered each time)."""
    kept = site.fresh_forms
    if key in kept:
        page = kept[key]
        if page is not None:
            return page.replace(TOKEN_SLOT, token)
        return _page(site, "modulo.html", {**fill, "token": token})
    if len(kept) >= FRESH_FORMS_KEPT:
        kept.clear()
    fresh = _page(site, "modulo.html", {**fill, "token": token})
    slotted = _page(site, "modulo.html", {**fill, "token": TOKEN_SLOT})
    kept[key] = slotted if slotted.replace(TOKEN_SLOT, token) == fresh else None
    return fresh


def _pole_address(site: Site, code: str) -> str | None:
    """The pole's address when the register knows `code` exactly, for the citizen to see."""
    if not code:
        return None
    pole = site.register.poles([code]).get(code)
    if pole is None:
        return None
    return ", ".join(part for part in (pole.address, pole.municipality) if part)


async def submit(request: web.Request) -> web.StreamResponse:
    site = _site(request)
    if not _same_site(request, site):
        return render(site, "errore.html", 403, {"title": "Invio non consentito",
                      "text": "Il modulo va inviato da questo sito."})  # fmt: skip
    client = client_address(request.remote, request.headers.get("X-Forwarded-For"),
                            site.config.trusted_proxies)  # fmt: skip
    wait = site.limit.retry_after(client, time.monotonic())
    if wait:
        minutes = int(wait // 60) + 1
        return render(site, "errore.html", 429, {"title": "Troppi invii",
                      "text": f"Da questo indirizzo sono arrivate troppe segnalazioni. "
                              f"Riprovi tra {minutes} minuti."},
                      {"Retry-After": str(int(wait) + 1)})  # fmt: skip
    limit = site.config.max_body_kb * 1024
    if (request.content_length or 0) > limit:
        # Read (and drop) what the browser sends before answering, up to a bound: answering
        # and closing with the upload unread would reset the connection, and the citizen
        # would see a network error instead of the page saying the photo is too big.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                _drain(request, DRAIN_FACTOR * limit), site.config.body_timeout_s
            )
        return render(site, "errore.html", 413, _error_text(413), {"Connection": "close"})
    try:
        fields, picture = await asyncio.wait_for(_read(request), site.config.body_timeout_s)
    except TimeoutError:
        return render(site, "errore.html", 408, {"title": "Invio interrotto",
                      "text": "L'invio è durato troppo. Riprovi."})  # fmt: skip
    return await _accept(site, fields, picture, client)


async def _accept(
    site: Site, fields: dict[str, str], picture: bytes | None, client: str
) -> web.StreamResponse:
    if fields.get(HONEYPOT):
        log.info("web %s: hidden field filled in, from %s", site.config.name, client)
        return render(site, "errore.html", 400, {"title": "Invio non valido",
                      "text": "Il modulo non è stato accettato."})  # fmt: skip
    try:
        max_age = site.config.form_max_age_h * 3600
        token = site.signer.read_form_token(fields.get("token", ""), max_age)
    except ValueError:
        notice = "Il modulo era scaduto: controlli i dati e lo invii di nuovo."
        return await form_page(site, fields, status=400, notice=notice)
    report, problems = form.check(fields)
    cleaned = None
    if picture and len(picture) > site.config.max_photo_kb * 1024:
        problems["photo"] = f"La foto supera {site.config.max_photo_kb / 1024:g} MB."
    elif picture:
        try:  # decoding is CPU work: off the event loop
            cleaned = await asyncio.get_running_loop().run_in_executor(
                None, photo.clean, picture, site.config.max_photo_pixels
            )
        except photo.PhotoError as exc:
            problems["photo"] = str(exc)
    if report is None or problems:
        return await form_page(site, fields, problems, status=422)
    received_at = utcnow()
    raw = message.build(
        report, nonce=token.nonce, host=site.host, client=client, received_at=received_at,
        photo=cleaned.jpeg if cleaned else None,
    )  # fmt: skip
    incoming = Incoming(
        raw=raw, received_at=received_at, channel="web",
        origin=Origin(site.config.name, "web", 0, token.nonce, f"web: client {client}"),
    )  # fmt: skip
    try:
        spooled = await site.commit.store(incoming)
    except Exception:  # a failing store: say so, keep what was typed, lose nothing said stored
        log.exception("web %s: cannot store a report from %s", site.config.name, client)
        notice = ("Il servizio non ha potuto registrare la segnalazione. "
                  "Riprovi tra qualche minuto: i dati inseriti sono qui sotto.")  # fmt: skip
        return await form_page(site, fields, status=503, notice=notice,
                               headers={"Retry-After": "30"})  # fmt: skip
    if spooled.new:
        site.limit.count(client, time.monotonic())
        log.info("web %s: stored message %s from %s", site.config.name, spooled.message_pk, client)
        site.on_new()
    raise web.HTTPSeeOther(f"/ricevuta/{site.signer.receipt(spooled.message_pk)}")


async def _drain(request: web.Request, most: int) -> None:
    seen = 0
    while seen < most and (chunk := await request.content.read(65536)):
        seen += len(chunk)


async def _read(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """The form's text fields and the photo's bytes (bounded by `client_max_size`)."""
    data = await request.post()
    fields: dict[str, str] = {}
    picture = None
    for key, value in data.items():
        if isinstance(value, str):
            fields.setdefault(key, value[:10000])
        elif key == "photo" and picture is None:  # a file, or bytes when none was chosen
            raw = value.file.read() if isinstance(value, web.FileField) else bytes(value)
            picture = raw or None
    return fields, picture


def _same_site(request: web.Request, site: Site) -> bool:
    """CSRF, beside the signed token: a browser's POST from another site is refused."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    ours = urlsplit(site.config.base_url)
    host = request.headers.get("Host", "")
    return origin in (f"{ours.scheme}://{ours.netloc}", f"{request.scheme}://{host}")


async def answer(request: web.Request) -> web.Response:
    site = _site(request)
    try:
        pk = site.signer.read_receipt(request.match_info["token"])
    except ValueError:
        raise web.HTTPNotFound() from None
    ticket = await site.waiters.ticket(pk, site.config.answer_wait_s)
    if ticket is not None:
        return render(site, "ricevuta.html", 200, {"t": ticket, "status_url": _status_url(
            site, ticket.number), "moved": ticket.deemed_reason is not None})  # fmt: skip
    loop = asyncio.get_running_loop()
    at = await loop.run_in_executor(None, lookup.received, site.waiters.engine, pk)
    if at is None:
        raise web.HTTPNotFound()
    return render(site, "in_attesa.html", 202, {"received_at": at})


def _status_url(site: Site, number: str) -> str:
    return f"{site.config.base_url}/stato/{number}?chiave={site.signer.status_key(number)}"


async def status(request: web.Request) -> web.Response:
    site = _site(request)
    number = parse_number(f"{request.match_info['year']}/{request.match_info['seq']}")
    key = request.query.get("chiave", "")
    if number is None or not site.signer.status_key_ok(number, key):
        raise web.HTTPNotFound()  # the same answer as for no such ticket: no oracle
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, lookup.history, site.waiters.engine, number)
    if found is None:
        raise web.HTTPNotFound()
    ticket, steps = found
    return render(site, "stato.html", 200, {"t": ticket, "steps": steps, "labels": STATUS_LABELS})


async def stylesheet(request: web.Request) -> web.Response:
    pages = _site(request).pages
    assert pages.loader is not None
    css = pages.loader.get_source(pages, "stile.css")[0]  # as written: no escaping
    age = int(timedelta(hours=1).total_seconds())
    return web.Response(text=css, content_type="text/css",
                        headers={"Cache-Control": f"public, max-age={age}"})  # fmt: skip
