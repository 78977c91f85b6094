"""Gateway profiles on notification mails written as each gateway writes them (HylaFAX
faxrcvd, FreePBX's fax module, an Asterisk ReceiveFAX script, a gateway the operator
describes with regexes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from parsers.fax import PROFILES, phone_number, read_call
from parsers.fax.generic import configured

ROME = ZoneInfo("Europe/Rome")

HYLAFAX_SUBJECT = "Facsimile received from +39 06 1234567"
HYLAFAX_BODY = """recvq/fax00012.tif (ftp://fax.example.it:4559/recvq/fax00012.tif):
                 Sender: +39 06 1234567
                  Pages: 2
                Quality: Normal
                   Size: ISO A4
               Received: 2026:12:03 18:15:42
        Time To Receive: 0:45
            Signal Rate: 14400 bit/s
            Data Format: 2-D MMR
          Error Correct: Yes
                CallID1: 0612345678
                CallID2: PARROCCHIA S MARCO
            Received On: ttyIAX0
                 CommID: c00000123
"""
FREEPBX_SUBJECT = 'New fax from: "PARROCCHIA S MARCO" <0612345678>'
FREEPBX_BODY = """Enclosed, please find a new fax from: "PARROCCHIA S MARCO" <0612345678>
Received & processed: Thu, 03 Dec 2026 18:15:42 +0100
On: pbx.example.it
Via: 0698765432
For: Ufficio segnalazioni
"""
SCRIPT_BODY = """Fax ricevuto
Caller ID: 06 1234 567
Remote station: SCUOLA DANTE
Pages: 3
"""


def test_hylafax_faxrcvd_mail():
    call = read_call(PROFILES["hylafax"], HYLAFAX_SUBJECT, HYLAFAX_BODY, ROME)
    assert call is not None
    assert call.number == "0612345678"  # the caller id, not the TSI
    assert call.station_id == "+39 06 1234567"
    assert call.pages == 2
    assert call.received_at == datetime(2026, 12, 3, 18, 15, 42, tzinfo=ROME)


def test_hylafax_without_caller_id_takes_the_number_the_station_gave():
    body = HYLAFAX_BODY.replace("CallID1: 0612345678", "CallID1: ")
    call = read_call(PROFILES["hylafax"], HYLAFAX_SUBJECT, body, ROME)
    assert call.number == "+39061234567"


def test_freepbx_fax_mail():
    call = read_call(PROFILES["asterisk"], FREEPBX_SUBJECT, FREEPBX_BODY, ROME)
    assert call.number == "0612345678"
    assert call.pages is None  # FreePBX does not say: the pages are counted from the file
    assert call.received_at == datetime(2026, 12, 3, 17, 15, 42, tzinfo=UTC)


def test_asterisk_receivefax_script_mail():
    call = read_call(PROFILES["asterisk"], "Nuovo fax", SCRIPT_BODY, ROME)
    assert (call.number, call.station_id, call.pages) == ("061234567", "SCUOLA DANTE", 3)


def test_a_mail_not_from_the_gateway_is_not_a_call():
    assert read_call(PROFILES["hylafax"], "Lampione spento", "Il palo è spento", ROME) is None
    assert read_call(PROFILES["asterisk"], "Lampione spento", "Il palo è spento", ROME) is None


def test_generic_profile_reads_italian_labels():
    body = "Numero chiamante: 0612345678\nPagine: 4\nRicevuto il: 03/12/2026 09:05\n"
    call = read_call(PROFILES["generic"], "Fax", body, ROME)
    assert (call.number, call.pages) == ("0612345678", 4)
    assert call.received_at == datetime(2026, 12, 3, 9, 5, tzinfo=ROME)


def test_generic_profile_with_the_operators_regexes():
    profile = configured(
        {"number": [r"FAX DA (?P<value>\d+)"], "pages": [r"\[(?P<value>\d+) pp\]"]},
        ["%d.%m.%Y %H.%M"],
    )
    subject = "FAX DA 0498765432 [5 pp]"
    call = read_call(profile, subject, "Ricevuto: 03.12.2026 07.30", ROME)
    assert (call.number, call.pages) == ("0498765432", 5)
    assert call.received_at == datetime(2026, 12, 3, 7, 30, tzinfo=ROME)


@pytest.mark.parametrize(
    ("text", "number"),
    [("+39 06 123 4567", "+39061234567"), ("anonymous", None), ("1234", None)],
)
def test_phone_number(text, number):
    assert phone_number(text) == number


def test_a_time_in_a_dst_change_is_still_aware():
    body = HYLAFAX_BODY.replace("2026:12:03 18:15:42", "2026:03:29 02:30:00")
    call = read_call(PROFILES["hylafax"], HYLAFAX_SUBJECT, body, ROME)
    assert call.received_at.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
