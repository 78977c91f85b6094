"""Loading rule sets: the shipped TOML files, then the operator's overrides, checked and compiled.

Every problem raises `RulesError` naming the file and the rule, so that a mistake in an override
file stops the daemon at start-up with a message the operator can act on.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from rules import learned
from rules.engine import FIELD_VALUES, SCOPES, Decision, Rule, RulesError, RuleSet, fold
from rules.scopes import NAMES as SCOPE_NAMES

RULE_KEYS = {
    "name", "field", "value", "patterns", "unless", "unless_scope", "weight", "enabled",
    "description", "near", "window", "negations", "boost", "boost_weight", "group", "outside",
}  # fmt: skip
DECISION_KEYS = {
    "min_score",
    "lone_min_score",
    "lone_ignores",
    "prefer",
    "quoted_ticket_weight",
    "danger_weight",
    "crime_weight",
    "question_weight",
    "outranks",
    "competence_weight",
    "floors",
    "learned_weight",
    "learned_min_p",
    "learned_sure",
}


def load_ruleset(overrides: Sequence[Path] = ()) -> RuleSet:
    """The shipped Italian rules, then each override file merged over them in order.

    A rule in an override replaces the rule of the same name wherever it was defined (keeping its
    place), a new name is appended, and `enabled = false` drops the named rule. Decision tables
    are merged key by key. Raises RulesError naming the file and rule on any problem.
    """
    merged: dict[str, tuple[str, dict[str, Any]]] = {}
    decisions: dict[str, dict[str, Any]] = {}
    files = [*_default_files(), *(Path(p) for p in overrides)]
    for path in files:
        data = _read_toml(path)
        _merge_file(str(path), data, merged, decisions)
    rules = tuple(
        _compile_rule(source, raw)
        for source, raw in merged.values()
        if raw.get("enabled", True) is not False
    )
    compiled = {field: _compile_decision(raw) for field, raw in decisions.items()}
    return RuleSet(rules, compiled, tuple(str(p) for p in files), learned.load())


def _default_files() -> list[Path]:
    folder = resources.files("rules") / "defaults"
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".toml"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None


def _merge_file(
    source: str,
    data: dict[str, Any],
    merged: dict[str, tuple[str, dict[str, Any]]],
    decisions: dict[str, dict[str, Any]],
) -> None:
    unknown = set(data) - {"field", "decision", "rule"}
    if unknown:
        raise RulesError(f"{source}: unknown top-level keys: {', '.join(sorted(unknown))}")
    default_field = data.get("field")
    for field, table in _table(source, data.get("decision", {}), "decision").items():
        decisions.setdefault(field, {}).update(_check_decision(source, field, table))
    seen: set[str] = set()
    for i, raw in enumerate(_rule_list(source, data.get("rule", []))):
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise RulesError(f"{source}: rule #{i + 1} has no name")
        if name in seen:
            raise RulesError(f"{source}: rule {name!r} is defined twice")
        seen.add(name)
        entry = dict(raw)
        if default_field is not None:
            entry.setdefault("field", default_field)
        merged[name] = (source, entry)


def _check_decision(source: str, field: str, table: Any) -> dict[str, Any]:
    where = f"{source}: decision.{field}"
    if field not in FIELD_VALUES:
        raise RulesError(f"{where}: unknown field")
    unknown = set(_table(source, table, f"decision.{field}")) - DECISION_KEYS
    if unknown:
        raise RulesError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    for key in (
        "min_score",
        "quoted_ticket_weight",
        "danger_weight",
        "crime_weight",
        "question_weight",
        "competence_weight",
        "lone_min_score",
        "learned_weight",
        "learned_min_p",
        "learned_sure",
    ):
        if key in table and not _is_number(table[key]):
            raise RulesError(f"{where}: {key} must be a number")
    prefer = table.get("prefer", [])
    if not isinstance(prefer, list) or any(v not in FIELD_VALUES[field] for v in prefer):
        raise RulesError(f"{where}: prefer must list values of {field}, not {prefer!r}")
    ignores = table.get("lone_ignores", [])
    if not isinstance(ignores, list) or not all(isinstance(n, str) for n in ignores):
        raise RulesError(f"{where}: lone_ignores must list rule names")
    outranks = table.get("outranks", {})
    if not isinstance(outranks, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in outranks.values()
    ):
        raise RulesError(f"{where}: outranks must map a rule name to a list of rule names")
    floors = table.get("floors", {})
    if not isinstance(floors, dict) or any(v not in FIELD_VALUES[field] for v in floors.values()):
        raise RulesError(f"{where}: floors must map a rule name to a value of {field}")
    return table


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _table(source: str, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RulesError(f"{source}: {where} must be a table")
    return value


def _rule_list(source: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise RulesError(f"{source}: `rule` must be an array of tables ([[rule]])")
    return value


def _compile_rule(source: str, raw: dict[str, Any]) -> Rule:
    name = raw["name"]

    def fail(problem: str) -> RulesError:
        return RulesError(f"{source}: rule {name!r}: {problem}")

    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise fail(f"unknown keys: {', '.join(sorted(unknown))}")
    field, value = raw.get("field"), raw.get("value")
    if field not in FIELD_VALUES:
        raise fail(f"field must be one of {', '.join(FIELD_VALUES)}, not {field!r}")
    if value not in FIELD_VALUES[field]:
        raise fail(f"value for {field} must be one of {', '.join(FIELD_VALUES[field])}")
    patterns = _regex_list(raw.get("patterns"), fail, "patterns")
    if not patterns:
        raise fail("needs at least one pattern")
    scope = raw.get("unless_scope", "sentence")
    if scope not in SCOPES:
        raise fail(f"unless_scope must be one of {', '.join(SCOPES)}")
    weight = raw.get("weight", 1.0)
    if not _is_number(weight):
        raise fail("weight must be a number")
    boost_weight, window = raw.get("boost_weight", 0.0), raw.get("window", 60)
    if not _is_number(boost_weight):
        raise fail("boost_weight must be a number")
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        raise fail("window must be a whole number of characters")
    near = _regex_list(raw.get("near", []), fail, "near")
    for key in ("negations", "boost", "window", "boost_weight"):
        if key in raw and not near:
            raise fail(f"{key} needs `near` (a compositional rule)")
    group = raw.get("group", "")
    if not isinstance(group, str):
        raise fail("group must be a string")
    outside = raw.get("outside", [])
    if not isinstance(outside, list) or not set(outside) <= set(SCOPE_NAMES):
        raise fail(f"outside must be a list of scopes among {', '.join(SCOPE_NAMES)}")
    return Rule(
        name=name,
        field=field,
        value=value,
        patterns=patterns,
        unless=_regex_list(raw.get("unless", []), fail, "unless"),
        unless_scope=scope,
        weight=float(weight),
        description=str(raw.get("description", "")),
        source=source,
        near=near,
        window=window,
        negations=_regex_list(raw.get("negations", []), fail, "negations"),
        boost=_regex_list(raw.get("boost", []), fail, "boost"),
        boost_weight=float(boost_weight),
        group=group,
        outside=tuple(outside),
    )


def _regex_list(
    value: Any, fail: Callable[[str], RulesError], key: str
) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise fail(f"{key} must be a list of strings")
    compiled = []
    for pattern in value:
        try:
            compiled.append(re.compile(fold(pattern), re.IGNORECASE))
        except re.error as exc:
            raise fail(f"bad regex in {key} {pattern!r}: {exc}") from None
    return tuple(compiled)


def _compile_decision(raw: dict[str, Any]) -> Decision:
    return Decision(
        min_score=float(raw.get("min_score", 1.0)),
        lone_min_score=float(raw.get("lone_min_score", 0.0)),
        lone_ignores=tuple(raw.get("lone_ignores", ())),
        prefer=tuple(raw.get("prefer", ())),
        quoted_ticket_weight=float(raw.get("quoted_ticket_weight", 0.0)),
        danger_weight=float(raw.get("danger_weight", 0.0)),
        crime_weight=float(raw.get("crime_weight", 0.0)),
        question_weight=float(raw.get("question_weight", 0.0)),
        outranks={k: tuple(v) for k, v in raw.get("outranks", {}).items()},
        competence_weight=float(raw.get("competence_weight", 0.0)),
        floors=dict(raw.get("floors", {})),
        learned_weight=float(raw.get("learned_weight", 0.0)),
        learned_min_p=float(raw.get("learned_min_p", 0.0)),
        learned_sure=float(raw.get("learned_sure", 0.0)),
    )
