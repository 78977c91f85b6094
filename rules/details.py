"""Type-specific details (the contracts' «campi di informazione differenti in base alla
tipologia»): the kind of fault of a maintenance request, what a complaint is about, the topic
of a question. Several may apply («la coppa è rotta e la lampada è spenta»).

A table of (value, patterns) per field, in Italian (`tables/details.toml`); each match is a
hit naming its evidence. One scan of the text (`rules.prefilter`) rules out the values none of
whose patterns' literals it holds, so only the others are searched.
Tuned on tests/corpus/details1.toml, measured on tests/corpus/blind6.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from rules.prefilter import Prefilter, build_prefilter, fold_case, pattern_literals
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


@lru_cache(maxsize=1)
def prefilters() -> Mapping[str, Prefilter]:
    """request type -> the prefilter of its values (each value a rule of one family); built
    by `RuleSet.compile_all` before the workers fork."""
    return {
        kind: build_prefilter((value, (patterns,)) for value, patterns in rows)
        for kind, (_, rows) in _tables().items()
    }


@lru_cache(maxsize=1)
def literals() -> Mapping[str, tuple[tuple[frozenset[str] | None, ...], ...]]:
    """request type -> for each value, for each of its patterns, the literals one of which
    every match holds (`rules.prefilter.pattern_literals`; None: it needs none), so that a
    pattern none of whose literals is in the text is not searched (a case-insensitive search
    is tried at every character); built by `RuleSet.compile_all` before the workers fork."""
    return {
        kind: tuple(
            tuple(_frozen(pattern_literals(p.pattern, p.flags)) for p in patterns)
            for _, patterns in rows
        )
        for kind, (_, rows) in _tables().items()
    }


def _frozen(found: set[str] | None) -> frozenset[str] | None:
    return None if found is None else frozenset(found)


def extract(request_type: str, text: str) -> tuple[dict[str, tuple[str, ...]], list[Hit]]:
    """The details of a request of this type, with the hits that found them."""
    tables = _tables()
    if request_type not in tables:
        return {}, []
    field, rows = tables[request_type]
    folded = fold_case(text)
    candidates = prefilters()[request_type].candidates(folded)
    found: list[str] = []
    hits = []
    for (value, patterns), needs in zip(rows, literals()[request_type], strict=True):
        if value not in candidates:
            continue  # none of its patterns' literals is in the text: none matches
        for pattern, needed in zip(patterns, needs, strict=True):
            if needed is not None and not any(literal in folded for literal in needed):
                continue  # nor any of this pattern's: it matches nowhere
            match = pattern.search(text)
            if match:
                found.append(value)
                hits.append(Hit(f"details.{value}", field, value, match.group(0)[:120]))
                break
    return ({field: tuple(found)} if found else {}), hits
