"""Type-specific details (the contracts' «campi di informazione differenti in base alla
tipologia»): the kind of fault of a maintenance request, what a complaint is about, the topic
of a question. Several may apply («la coppa è rotta e la lampada è spenta»).

A table of (value, patterns) per field, in Italian (`tables/details.toml`); each match is a
hit naming its evidence.
Tuned on tests/corpus/details1.toml, measured on tests/corpus/blind6.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from rules.types import Hit

DEFAULTS = Path(__file__).parent / "tables" / "details.toml"

Table = tuple[str, tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]]


@lru_cache(maxsize=1)
def _tables() -> Mapping[str, Table]:
    """request type -> (field, ((value, patterns), ...)), from `tables/details.toml`."""
    with DEFAULTS.open("rb") as handle:
        data = tomllib.load(handle)
    return {
        kind: (table["field"], tuple(
            (row["name"], tuple(re.compile(p, re.IGNORECASE) for p in row["patterns"]))
            for row in table["value"]
        ))
        for kind, table in data.items()
    }  # fmt: skip


def extract(request_type: str, text: str) -> tuple[dict[str, tuple[str, ...]], list[Hit]]:
    """The details of a request of this type, with the hits that found them."""
    tables = _tables()
    if request_type not in tables:
        return {}, []
    field, rows = tables[request_type]
    found: list[str] = []
    hits = []
    for value, patterns in rows:
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                found.append(value)
                hits.append(Hit(f"details.{value}", field, value, match.group(0)[:120]))
                break
    return ({field: tuple(found)} if found else {}), hits
