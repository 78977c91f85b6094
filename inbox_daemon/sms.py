"""A voicemail's acknowledgement, by SMS: a voice message cannot be answered by voice, and
the caller's number is all we have. Sent through an e-mail-to-SMS gateway
(`[voicemail] sms_gateway = "{number}@sms.example.it"`) as an ordinary acknowledgement job
of the outbox, so the same retries and the same flood limit per recipient apply. Only to an
Italian mobile, and only for voicemails: an operator reads the number out on the phone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from inbox_daemon.acks import AckPolicy, RecentAcks
from inbox_daemon.drafts import JobDraft, TicketDraft
from parsers.phone.callers import italian_mobile


def plan(
    policy: AckPolicy, gateway: str, draft: TicketDraft, recent: RecentAcks
) -> JobDraft | None:
    """The SMS job for a voicemail's ticket, or None (not a voicemail, not a mobile)."""
    phone = draft.phone or {}
    mobile = italian_mobile(phone.get("number"))
    if draft.channel != "phone" or phone.get("via") != "voicemail" or mobile is None:
        return None
    recipient = gateway.replace("{number}", mobile)
    job = JobDraft(
        kind="ack",
        recipient=recipient,
        source=draft.source,
        subject=f"Richiesta {draft.number}",
        body=text(draft, policy),
        headers={},
        created_at=draft.registered_at,
    )
    limit = policy.config.max_per_sender_per_hour
    if recent(recipient, draft.registered_at - timedelta(hours=1)) >= limit:
        flood = f"more than {limit} acknowledgements in an hour"
        return replace(job, state="suppressed", last_error=flood)
    return job


def text(draft: TicketDraft, policy: AckPolicy) -> str:
    """At most 160 characters, one SMS: the number, and when the request counts as received."""
    deemed = draft.deemed_received_at.astimezone(policy.tz)
    return (
        f"Il suo messaggio in segreteria e' registrato come richiesta n. {draft.number}, "
        f"ricevuta il {deemed:%d/%m/%Y} alle {deemed:%H:%M}."
    )
