"""Plain values the rules take and return: no daemon, database or config objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

REQUEST_TYPES = ("manutenzione", "reclamo", "sollecito", "informazione", "da_classificare")
URGENCIES = ("emergenza", "urgente", "ordinaria")
# Who must act: the lighting supplier, or the body best placed for a matter outside its
# competence (the contracts ask to pass those on when urgent).
COMPETENCES = ("fornitore", "vigili_del_fuoco", "polizia_locale")


@dataclass(frozen=True)
class PoleFormat:
    """A pole-code format: a regex with a named group `num`, and its canonical form."""

    regex: str
    canonical: str  # str.format template over the regex's named groups, e.g. "IP-{num}"


@dataclass(frozen=True)
class RuleInput:
    """What the rules read: the subject and the parts of one request's body, by role.

    `text` is what the sender typed now; `forwarded` a message it passes on (an office
    forwarding a citizen's report: that report is the request, read like the text); `quoted`
    the history of a reply (context only: its pole codes and ticket numbers say what the reply
    is about, its dangers and wording are not new).
    """

    subject: str
    text: str
    sender: str | None = None
    forwarded: str = ""
    quoted: str = ""


@dataclass(frozen=True)
class Hit:
    """One rule that fired: which rule, which field it decided, the value, and the evidence."""

    rule: str
    field: str  # request_type | urgency | criminal_event | pole_codes | ticket_refs
    value: str
    evidence: str  # the text that matched, short


@dataclass(frozen=True)
class Verdict:
    request_type: str  # one of REQUEST_TYPES
    urgency: str  # one of URGENCIES
    criminal_event: bool
    pole_codes: tuple[str, ...]  # canonical, unique, in order of appearance
    ticket_refs: tuple[str, ...]  # quoted ticket numbers, canonical "YYYY/NNNNNN"
    hits: tuple[Hit, ...]
    competence: str = "fornitore"  # one of COMPETENCES
    # type-specific fields (rules/details.py): {"fault": ("spenta",)}, {"about": …}, {"topic": …}
    details: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
