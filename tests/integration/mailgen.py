"""Generated Italian requests to a Contact Center: plausible, varied and each one unique
(its own Message-ID and text), so that one message must make exactly one ticket."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

STREETS = ["via Roma", "via Garibaldi", "piazza Cavour", "corso Italia", "via dei Mille",
           "viale della Repubblica", "via Mazzini", "largo Augusto"]  # fmt: skip
TOWNS = ["Brescia", "Lodi", "Cremona", "Pavia", "Mantova", "Bergamo", "Como"]
BODIES = [
    "Buongiorno, segnalo che il lampione in {street} {n}, {town} (palo IP-{pole:06d}) è spento "
    "da tre sere. Grazie.",
    "Il palo IP-{pole:06d} in {street} a {town} è stato urtato da un camion ed è inclinato, "
    "rischia di cadere sul marciapiede.",
    "Sollecito la segnalazione fatta la settimana scorsa: in {street} a {town} l'intera via è "
    "ancora al buio.",
    "Vorrei sapere gli orari del vostro servizio clienti e come richiedere un nuovo punto luce "
    "in {street}, {town}.",
    "Reclamo per il ritardo dell'intervento: il tecnico non si è presentato all'appuntamento "
    "in {street} {n} ({town}).",
    "Nel quadro elettrico in {street} a {town} lo sportello è aperto e si vedono i cavi, "
    "passano bambini.",
]
SUBJECTS = ["Segnalazione guasto", "Lampione spento", "Palo pericolante", "Sollecito",
            "Richiesta informazioni", "Reclamo", "Quadro aperto"]  # fmt: skip


def italian_request(index: int, rng: random.Random, body_bytes: int = 0) -> bytes:
    """One plain-text request; `body_bytes` pads it with a base64 attachment of that size."""
    msg = EmailMessage()
    msg["From"] = f"Cittadino {index} <cittadino{index}@example.it>"
    msg["To"] = "segnalazioni@example.it"
    msg["Subject"] = f"{rng.choice(SUBJECTS)} n. {index}"
    sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=7 * index)
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = make_msgid(idstring=f"req{index}", domain="example.it")
    text = rng.choice(BODIES).format(
        street=rng.choice(STREETS), n=rng.randint(1, 200), town=rng.choice(TOWNS),
        pole=rng.randint(1, 999_999),
    )  # fmt: skip
    msg.set_content(f"{text}\n\nRichiesta {index}\n")
    if body_bytes:
        msg.add_attachment(
            rng.randbytes(body_bytes), maintype="application", subtype="octet-stream",
            filename="allegato.bin",
        )  # fmt: skip
    return bytes(msg).replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


def italian_requests(count: int, seed: int = 1, start: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [italian_request(i, rng) for i in range(start, start + count)]
