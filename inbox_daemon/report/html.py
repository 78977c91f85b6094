"""The report as one HTML page for the Administration's referent: figures in Italian, charts
drawn by matplotlib and embedded as images, so that the page is one file to mail or print.

The page shows the same figures as the JSON, each beside the month before."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
          "settembre", "ottobre", "novembre", "dicembre")  # fmt: skip
LABELS = {
    "manutenzione": "Manutenzione", "reclamo": "Reclamo", "sollecito": "Sollecito",
    "informazione": "Informazione", "da_classificare": "Da classificare",
    "emergenza": "Emergenza", "urgente": "Urgente", "ordinaria": "Ordinaria",
    "email": "E-mail", "pec": "PEC", "fax": "Fax", "web": "Web", "phone": "Telefono",
    "open": "Aperte", "in_progress": "In lavorazione", "closed": "Chiuse",
    "redirected": "Inoltrate", "receipt": "Ricevute PEC", "bounce": "Mancati recapiti",
    "auto_reply": "Risposte automatiche", "duplicate": "Doppioni", "quarantined": "In quarantena",
}  # fmt: skip
STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border-bottom: 1px solid #ddd; padding: .25em .8em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.up { color: #a40; } .down { color: #070; } .charts img { max-width: 48%; }
"""


def month_title(month: str) -> str:
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def render(figures: dict[str, Any]) -> str:
    previous = figures["previous"]
    parts = [
        f"<h1>Rapporto mensile delle richieste — {month_title(figures['month'])}</h1>",
        f"<p>Richieste ricevute nel mese (ora di {escape(figures['timezone'])}): "
        f"<strong>{figures['total']}</strong>{_change(figures['total'], previous['total'])}; "
        f"mese precedente ({month_title(previous['month'])}): {previous['total']}.</p>",
        '<div class="charts">',
        _chart_by(figures, "by_request_type", "Per tipo di richiesta"),
        _chart_by(figures, "by_channel", "Per canale"),
        _chart_line(figures),
        _chart_hours(figures),
        "</div>",
    ]
    for key, title in (
        ("by_request_type", "Per tipo di richiesta"),
        ("by_channel", "Per canale di arrivo"),
        ("by_urgency", "Per urgenza"),
        ("by_status", "Per stato"),
        ("by_queue", "Per coda di smistamento"),
    ):
        parts.append(_table(title, figures[key], previous.get(key, {})))
    singles = {
        "Reclami": ("complaints", figures["complaints"]),
        "Solleciti": ("reminders", figures["reminders"]),
        "Possibili reati segnalati": ("criminal_events", figures["criminal_events"]),
        "Inoltrate ad altri enti": ("forwarded", figures["forwarded"]),
    }
    rows = [(label, value, previous.get(key, 0)) for label, (key, value) in singles.items()]
    parts.append(_rows_table("Reclami, solleciti, reati, inoltri", rows))
    parts.append(_table("Messaggi conservati senza richiesta", figures["kept_without_ticket"], {}))
    acks = figures["acknowledgements"]
    parts.append(
        f"<p>Ricevute di registrazione inviate: {acks['sent']}; in attesa: "
        f"{acks['pending'] + acks['sending']}; non recapitate: {acks['not_delivered']}.</p>"
    )
    parts.append(_times(figures["times"]))
    if "phone" in figures:
        from inbox_daemon.report.phone import phone_html

        parts.append(phone_html(figures["phone"]))
    parts.append(_repeated(figures))
    body = "\n".join(parts)
    title = f"Rapporto mensile {escape(figures['month'])}"
    return (f'<!DOCTYPE html>\n<html lang="it"><head><meta charset="utf-8"><title>{title}'
            f"</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")  # fmt: skip


def _change(now: int, before: int) -> str:
    if now == before:
        return " <span>(=)</span>"
    css = "up" if now > before else "down"
    return f' <span class="{css}">({now - before:+d})</span>'


def _table(title: str, values: dict[str, int], before: dict[str, int]) -> str:
    rows = [(LABELS.get(k, k), v, before.get(k, 0)) for k, v in values.items()]
    return _rows_table(title, rows, with_change=bool(before))


def _rows_table(title: str, rows: list[tuple[str, int, int]], with_change: bool = True) -> str:
    head = "<th></th><th>mese</th>" + ("<th>mese prec.</th>" if with_change else "")
    lines = [f"<h2>{escape(title)}</h2><table><tr>{head}</tr>"]
    for label, value, before in rows:
        extra = f"<td>{before}{_change(value, before)}</td>" if with_change else ""
        lines.append(f"<tr><td>{escape(str(label))}</td><td>{value}</td>{extra}</tr>")
    return "\n".join([*lines, "</table>"])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} gg"


def _times(times: dict[str, Any]) -> str:
    lines = [
        "<h2>Tempi per urgenza</h2><table><tr><th></th><th>registrazione (mediana)</th>"
        "<th>chiusura (mediana)</th><th>chiusura (90%)</th><th>obiettivo</th>"
        "<th>entro l'obiettivo</th><th>ancora aperte</th></tr>"
    ]
    for urgency, closure in times["closure"].items():
        registration = times["registration"][urgency]
        share = closure.get("within_target_share")
        within = f"{share:.0%} ({closure['within_target']})" if share is not None else "—"
        lines.append(
            f"<tr><td>{LABELS[urgency]}</td><td>{_duration(registration['median_s'])}</td>"
            f"<td>{_duration(closure['median_s'])}</td><td>{_duration(closure['p90_s'])}</td>"
            f"<td>{escape(closure.get('target') or '—')}</td><td>{within}</td>"
            f"<td>{closure['still_open']}</td></tr>"
        )
    return "\n".join([*lines, "</table>"])


def _repeated(figures: dict[str, Any]) -> str:
    lines = ["<h2>Punti luce con guasti ripetuti</h2>"]
    if not figures["repeated_poles"]:
        lines.append("<p>Nessun punto luce con più di una segnalazione nel mese.</p>")
    for pole in figures["repeated_poles"]:
        where = ", ".join(x for x in (pole["address"], pole["municipality"]) if x)
        numbers = escape(", ".join(pole["numbers"]))
        lines.append(f"<p>{escape(pole['pole'])} ({escape(where or 'fuori registro')}): "
                     f"{pole['tickets']} segnalazioni — {numbers}</p>")  # fmt: skip
    for street in figures["repeated_streets"]:
        lines.append(f"<p>{escape(street['street'])}, {escape(street['municipality'])}: "
                     f"{street['tickets']} segnalazioni</p>")  # fmt: skip
    days = ", ".join(f"{d['day']} ({d['tickets']})" for d in figures["busiest_days"])
    lines.append(f"<p>Giorni con più richieste: {escape(days or '—')}.</p>")
    return "\n".join(lines)


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no screen: draw into memory
    from matplotlib.figure import Figure

    return Figure(figsize=(5.2, 3.0), dpi=100, layout="constrained")


def _embed(figure: Any, alt: str) -> str:
    for axes in figure.axes:  # counts: from zero, in whole numbers
        axes.set_ylim(bottom=0)
        axes.yaxis.get_major_locator().set_params(integer=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _chart_by(figures: dict[str, Any], key: str, title: str) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    names = list(figures[key])
    now = [figures[key][n] for n in names]
    before = [figures["previous"].get(key, {}).get(n, 0) for n in names]
    positions = range(len(names))
    axes.bar([p - 0.2 for p in positions], before, 0.4, label="mese prec.", color="#bbb")
    axes.bar([p + 0.2 for p in positions], now, 0.4, label="mese", color="#2a6fb0")
    axes.set_xticks(list(positions), [LABELS.get(n, n) for n in names], rotation=20, fontsize=8)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    return _embed(figure, title)


def _chart_line(figures: dict[str, Any]) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    days = list(figures["by_day"])
    axes.plot([d[-2:] for d in days], list(figures["by_day"].values()), marker="o", color="#2a6fb0")
    axes.set_title("Richieste per giorno", fontsize=10)
    axes.tick_params(labelsize=7)
    return _embed(figure, "Richieste per giorno")


def _chart_hours(figures: dict[str, Any]) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    axes.bar(range(24), figures["by_hour"], color="#2a6fb0")
    axes.set_title("Richieste per ora di arrivo", fontsize=10)
    axes.set_xticks(range(0, 24, 3))
    return _embed(figure, "Richieste per ora di arrivo")
