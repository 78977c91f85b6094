"""Rule sets as TOML data, and the engine that runs them.

A rule set is data so that an operator can fix a misclassification without a release: each rule
is a named list of regexes that votes, with a weight, for one value of one field. A rule may carry
`unless` regexes that silence it in the sentence where they also match ("non ci sono cavi
scoperti"; a match running over several sentences, from the subject into the body, say, is
guarded by all of them), which is how negations and bureaucratic traps are written down next to
the rule they guard. The modules per field (`request_type`, `urgency`, `crime`) turn the votes
into a value.

The shipped Italian rules live in `rules/defaults/*.toml`; override files given by the operator
replace a shipped rule by name, add new ones, or drop one with `enabled = false` (see
`rules.loader`).

A rule with `near` is compositional: it fires where a `patterns` match (an object: "palo",
"cavo") and a `near` match (a state: "piegato", "scintille") lie in one sentence, within `window`
characters, unless a `negations` regex sits in the state's clause before it ("nessun cavo a
terra"). Its
`boost` regexes (people, places) in the same sentences add `boost_weight`. Rules sharing a
`group` count once per value, with the largest weight: two wordings of one sign are one sign.

A rule's `outside` names the scopes it does not fire in (`rules.scopes`: a question, a
hypothesis, a past that is over), one table for every rule instead of guards copied into each.
A negative weight cancels only the votes found before the end of its sentence. The document
knows its parts: a forwarded message read as the request, whose evidence is tagged
`[inoltrato]`; dialect and misspellings are mapped first (`rules.spelling`).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from rules.details import literals as details_literals
from rules.details import prefilters as details_prefilters
from rules.learned import Model
from rules.prefilter import Anchors, Prefilter, build_anchors, build_prefilter, fold_case
from rules.scopes import Scopes
from rules.scopes import find as find_scopes
from rules.scopes import markers as scope_markers
from rules.screen import Screens, lower_twin
from rules.spelling import normalise
from rules.types import COMPETENCES, REQUEST_TYPES, URGENCIES, Hit, RuleInput

FIELD_VALUES: Mapping[str, tuple[str, ...]] = {
    "request_type": REQUEST_TYPES,
    "urgency": URGENCIES,
    "criminal_event": ("true",),
    "competence": COMPETENCES,
}
SCOPES = ("sentence", "message")
EVIDENCE_CHARS = 120


class RulesError(Exception):
    """A rule file cannot be used; the message names the file and, where known, the rule."""


@dataclass(frozen=True)
class Rule:
    """One named rule: if any pattern matches outside an `unless`, it votes `weight` for `value`."""

    name: str
    field: str
    value: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    unless_scope: str = "sentence"  # where an `unless` match silences the rule
    weight: float = 1.0
    description: str = ""
    source: str = ""  # the file that defined it, for messages
    near: tuple[re.Pattern[str], ...] = ()  # compositional: a second family within `window`
    window: int = 60
    negations: tuple[re.Pattern[str], ...] = ()  # before the `near` match, in its clause
    boost: tuple[re.Pattern[str], ...] = ()
    boost_weight: float = 0.0
    group: str = ""  # rules of one group vote once, with the largest weight
    outside: tuple[str, ...] = ()  # scopes it does not fire in (`rules.scopes`): "domanda", ...

    @cached_property
    def lower_case(self) -> Rule | None:
        """This rule for lower-cased ASCII text (`Document.lower_case`): the same matches,
        found faster (see `rules.screen.lower_twin`); None if a pattern has no twin."""
        families: dict[str, Any] = {}
        for family in ("patterns", "unless", "near", "negations", "boost"):
            twins = tuple(_ascii(lower_twin(pattern)) for pattern in getattr(self, family))
            if None in twins:
                return None
            families[family] = twins
        return replace(self, **families)

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The names its patterns go by, one each, in `RuleSet.anchors`."""
        return tuple(f"{self.name} #{i}" for i in range(len(self.patterns)))

    @cached_property
    def near_keys(self) -> tuple[str, ...]:
        """The names its `near` patterns go by, one each, in `RuleSet.anchors`."""
        return tuple(f"{self.name} near #{i}" for i in range(len(self.near)))

    @cached_property
    def screens(self) -> Screens:
        """The screens of its patterns (`rules.screen`), built once."""
        return Screens.of(self.patterns)

    @cached_property
    def near_screens(self) -> Screens:
        """The screens of its `near` patterns (a compositional rule's states), built once."""
        return Screens.of(self.near)


@dataclass(frozen=True)
class Decision:
    """How votes for one field become a value: a floor, and an order to break ties."""

    min_score: float = 1.0
    lone_min_score: float = 0.0  # request_type: the floor when one value alone has votes (0: off)
    lone_ignores: tuple[str, ...] = ()  # rules too vague to decide alone (a «?», a topic word)
    prefer: tuple[str, ...] = ()
    quoted_ticket_weight: float = 0.0  # request_type: a quoted ticket number votes `sollecito`
    danger_weight: float = 0.0  # request_type: an emergency or urgency found votes `manutenzione`
    crime_weight: float = 0.0  # request_type: a crime against the plant votes `manutenzione`
    question_weight: float = 0.0  # request_type: a question scope votes `informazione`
    competence_weight: float = 0.0  # request_type: a hazard for another body, reported
    # urgency: the least level a matter implies when its rule fired, by rule name (a smell of gas
    # is an emergency, a traffic light out is urgent): {"competenza.vvf.gas": "emergenza"}
    floors: Mapping[str, str] = field(default_factory=dict)
    # a named precedence table: when the key rule fires, the votes of the rules listed are void
    # (an explicit «reclamo» outranks a weak reminder cue)
    outranks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the learned stage (`rules.learned`): the votes its reading adds (0: off), the probability
    # it needs, and the rules' score it cannot overturn (request_type: a rival value's; urgency:
    # a reassurance's weight, «nessun pericolo»)
    learned_weight: float = 0.0
    learned_min_p: float = 0.0
    learned_sure: float = 0.0


@dataclass(frozen=True, eq=False)
class RuleSet:
    """The merged, compiled rules and decisions; build it with `load_ruleset`."""

    rules: tuple[Rule, ...]
    decisions: Mapping[str, Decision]
    files: tuple[str, ...] = ()
    learned: Model | None = None  # the learned stage's weights (`rules.learned`); None: off

    def for_field(self, field: str) -> tuple[Rule, ...]:
        return self._by_field.get(field, ())

    @cached_property
    def _by_field(self) -> dict[str, tuple[Rule, ...]]:
        fields = dict.fromkeys(rule.field for rule in self.rules)
        return {f: tuple(rule for rule in self.rules if rule.field == f) for f in fields}

    @cached_property
    def prefilter(self) -> Prefilter:
        """Which rules can match a text at all, in one scan (`rules.prefilter`)."""
        return build_prefilter((rule.name, (rule.patterns, rule.near)) for rule in self.rules)

    @cached_property
    def anchors(self) -> Anchors:
        """Where each rule's matches may begin, in one scan (`rules.prefilter.Anchors`): read
        on the lower-case twins, the states of a compositional rule under `near_key`, and
        each pattern on its own under its key (`Rule.keys`, `Rule.near_keys`)."""
        families = []
        for rule in self.rules:
            twin = rule.lower_case
            if twin is not None:
                families.append((rule.name, twin.patterns))
                families += ((key, (p,)) for key, p in zip(twin.keys, twin.patterns, strict=True))
                if twin.near:
                    families.append((near_key(rule), twin.near))
                    families += (
                        (key, (p,)) for key, p in zip(twin.near_keys, twin.near, strict=True)
                    )
        families += scope_markers().marks.families()  # one scan for the scopes too
        return build_anchors(families)

    def decision(self, field: str) -> Decision:
        return self.decisions.get(field, NO_DECISION)

    def compile_all(self) -> RuleSet:
        """Build now what the rules otherwise build on the first message: the prefilter, the
        anchors, the lower-case twins and the screens. Done once in the process that forks the
        workers, every worker starts with them (each built them again, half a second, when
        spawned)."""
        _ = self.prefilter, self._by_field, self.anchors, details_prefilters(), details_literals()
        for rule in self.rules:
            for variant in (rule, rule.lower_case):
                if variant is not None:
                    _ = variant.screens, variant.near_screens
        return self


def _ascii(pattern: re.Pattern[str] | None) -> re.Pattern[str] | None:
    r"""A lower-case twin compiled with re.ASCII: it reads lower-cased ASCII text only, where
    `\b`, `\w`, `\s` and `\d` mean what they mean in Unicode and are told by a table, not
    by Unicode's database at each character. None if it cannot be."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern.pattern, pattern.flags & ~re.UNICODE | re.ASCII)
    except (re.error, ValueError):
        return None


def near_key(rule: Rule) -> str:
    """The name its `near` family goes by in `RuleSet.anchors`."""
    return f"{rule.name} near"


NO_DECISION = Decision()  # the decision of a field no file decides: the defaults


@dataclass(frozen=True)
class Fired:
    """A rule that fired on a document, with the hit it records."""

    rule: Rule
    hit: Hit
    weight: float  # the rule's weight, plus its boost where one was found
    start: int = 0  # where its match starts in the document
    reach: int = 0  # a negative vote: the end of its sentence (it cancels what comes before)


# ── text folding ──────────────────────────────────────────────────────────────────────────────

_PUNCT = {
    "’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "«": '"', "»": '"',
    "“": '"', "”": '"', "\u00a0": " ",
}  # fmt: skip


class _FoldTable(dict[int, str]):
    """`str.translate` table of `fold`: each character seen is looked up once, then cached."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        base = char if char.isascii() else unicodedata.normalize("NFD", char)[0]
        self[code] = base
        return base


_FOLD = _FoldTable({ord(char): base for char, base in _PUNCT.items()})
# the characters `_FOLD` may change: every one but ASCII, and the backtick (`_PUNCT`)
_FOLDABLE = re.compile(r"[^\x00-\x5f\x61-\x7f]+")


def fold(text: str) -> str:
    """Strip accents and unify apostrophes and dashes, one character for one.

    Citizens write "e'" or "e" for "è" and phones type ’ for ': matching folded text with folded
    patterns makes every rule accent-tolerant. Keeping the length lets a match's span in the
    folded text be the evidence's span in the original. Only the runs of characters it may
    change are translated: `str.translate` looks each character of a non-ASCII text up in
    Python, where most of a message is ASCII.
    """
    return _FOLDABLE.sub(_fold_run, text)


def _fold_run(match: re.Match[str]) -> str:
    return match[0].translate(_FOLD)


# ── documents ─────────────────────────────────────────────────────────────────────────────────

_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|\n[ \t]*\n")


FORWARDED = "inoltrato"  # the tag of evidence found in a forwarded message


@dataclass(frozen=True)
class Document:
    """The text the rules read: subject, a blank line, body, then the forwarded message if
    any (`forwarded_at` says where it starts); folded once for every rule."""

    original: str
    folded: str
    sentence_ends: tuple[int, ...]
    lowered: str | None = None  # `folded` lower-cased, when it is ASCII (see `rules.screen`)
    candidates: frozenset[str] | None = None  # rules that may match (`rules.prefilter`); None: all
    anchors: Anchors | None = None  # where rules may match (`rules.prefilter`); None: anywhere
    forwarded_at: int | None = None
    # `fold(original)` before the spelling table: what the ticket numbers are read in, folded
    # once (`rules.linking`); None when the document was built by hand
    accents_folded: str | None = None
    # what is found once and shared by this document's variants (`lower_case`, `for_rules`)
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, doc: RuleInput) -> Document:
        original = f"{doc.subject or ''}\n\n{doc.text or ''}"
        forwarded_at = None
        if doc.forwarded:
            original += "\n\n"
            forwarded_at = len(original)
            original += doc.forwarded
        accents_folded = fold(original)
        folded = normalise(accents_folded)
        ends = tuple(m.end() for m in _SENTENCE_END.finditer(folded))
        lowered = folded.lower() if folded.isascii() else None
        return cls(
            original,
            folded,
            ends,
            lowered,
            forwarded_at=forwarded_at,
            accents_folded=accents_folded,
        )

    @property
    def scopes(self) -> Scopes:
        """Its question, hypothesis and past scopes (`rules.scopes`), found when first asked."""
        if "scopes" not in self.shared:
            self.shared["scopes"] = find_scopes(
                self.folded, self.anchors, self._places, self.sentence_ends
            )
        return self.shared["scopes"]

    def outside(self, rule: Rule, pos: int) -> bool:
        """True when `pos` lies in a scope that `rule` does not fire in; the first such match of
        each rule is kept for `silenced`, so that explain can say what a scope held back."""
        if not rule.outside:
            return False
        held = self.scopes.at(pos) & set(rule.outside)
        if held:
            self.shared.setdefault("silenced", {}).setdefault(rule.name, (pos, min(held)))
        return bool(held)

    def silenced(self, rule: Rule) -> Hit | None:
        """A hit saying that a scope held `rule` back, if one did (and the rule did not fire)."""
        found = self.shared.get("silenced", {}).get(rule.name)
        if found is None:
            return None
        pos, scope = found
        start, end = self.sentence(pos)
        evidence = (
            f"[{scope}] {rule.name}: {self.evidence(max(start, pos - 40), min(end, pos + 60))}"
        )
        return Hit("scope.silenced", rule.field, rule.value, evidence)

    def part(self, pos: int) -> str:
        """The role of the message part holding `pos`: "" for the new text, `FORWARDED`."""
        return FORWARDED if self.forwarded_at is not None and pos >= self.forwarded_at else ""

    @cached_property
    def lower_case(self) -> Document | None:
        """This document with its folded text lower-cased, when it is ASCII: the same length
        and spans, for the rules' lower-case twins."""
        return replace(self, folded=self.lowered) if self.lowered is not None else None

    def for_rules(self, ruleset: RuleSet) -> Document:
        """This document with the rules of `ruleset` that cannot match it ruled out, and
        the places where the others may match known."""
        text = self.lowered if self.lowered is not None else fold_case(self.folded)
        candidates = ruleset.prefilter.candidates(text)
        return replace(self, candidates=candidates, anchors=ruleset.anchors)

    def earliest(self, family: str, screens: Screens) -> int | None:
        """Where a match of the patterns of `screens` (the family named `family` in
        `RuleSet.anchors`) may start at the earliest (`Screens.earliest`), None if nowhere:
        tried at its anchors' places when this text is lower-cased ASCII and they are known,
        else by a scan."""
        places = self._places
        anchors = self.anchors
        if places is None or anchors is None or family not in anchors.literals_of:
            return screens.earliest(self.folded, self.lowered)
        openers = anchors.openers.get(family)
        if openers is None and screens.anchored is None:
            return screens.earliest(self.folded, self.lowered)
        # The first place of each literal where the patterns that may begin with it match
        # (`Anchors.openers`, or the family's screen): the earliest of those. Read literal by
        # literal, the places need not be merged and sorted for a rule that matches nowhere,
        # which most rules tried do.
        lowered, best = self.lowered, None
        for literal in anchors.literals_of[family].intersection(places):
            match = openers[literal].match if openers is not None else screens.anchored.match
            for place in places[literal]:
                if best is not None and place >= best:
                    break
                if match(lowered, place):
                    best = place
                    break
        return best

    def spots(self, family: str) -> list[tuple[int, str]] | None:
        """(place, literal) wherever a match of `family` (a family of `RuleSet.anchors`) may
        begin in this text, in order, found once per document; None when they are unknown
        (text not lower-cased ASCII, no anchors, a pattern without starts)."""
        found = self.shared.get("spots")
        if found is None:
            places = self._places
            if places is None or self.anchors is None:
                return None
            found = self.shared["spots"] = {}
        if family not in found:
            places = self._places
            if places is None or self.anchors is None:
                return None
            known = family in self.anchors.literals_of
            found[family] = self.anchors.spots(places, family) if known else None
        return found[family]

    @property
    def _places(self) -> dict[str, list[int]] | None:
        """`Anchors.places` of the lower-cased text, found once for this document's variants."""
        if self.anchors is None or self.lowered is None:
            return None
        if "places" not in self.shared:
            self.shared["places"] = self.anchors.places(self.lowered)
        return self.shared["places"]

    def sentence(self, pos: int) -> tuple[int, int]:
        """The span of the sentence holding `pos`: the scope of a rule's `unless`."""
        i = bisect.bisect_right(self.sentence_ends, pos)
        start = self.sentence_ends[i - 1] if i else 0
        end = self.sentence_ends[i] if i < len(self.sentence_ends) else len(self.folded)
        return start, end

    def evidence(self, start: int, end: int) -> str:
        """The matched text, short, tagged with its message part when not the new text."""
        text = " ".join(self.original[start:end].split())
        text = text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"
        part = self.part(start)
        return f"[{part}] {text}" if part else text


# ── running ───────────────────────────────────────────────────────────────────────────────────


def run(rules: Iterable[Rule], document: Document) -> list[Fired]:
    """Every rule that fires, each once, with the first match its `unless` does not silence."""
    fired = []
    lower = document.lower_case
    candidates = document.candidates
    for original in rules:
        if candidates is not None and original.name not in candidates:
            continue  # most rules: ruled out before anything else is looked up
        twin = original.lower_case if lower is not None else None
        rule, text = (
            (twin, lower) if twin is not None and lower is not None else (original, document)
        )
        if rule.near:
            found = compose_match(rule, text)
            if found is not None:
                fired.append(found)
            continue
        span = first_match(rule, text)
        if span is not None:
            hit = Hit(rule.name, rule.field, rule.value, document.evidence(*span))
            reach = document.sentence(span[0])[1] if rule.weight < 0 else 0
            fired.append(Fired(rule, hit, rule.weight, span[0], reach))
    return fired


def silenced(rules: Iterable[Rule], document: Document, fired: Sequence[Fired]) -> list[Hit]:
    """Hits for the rules that a scope held back and that did not fire elsewhere."""
    if not document.shared.get("silenced"):
        return []  # most messages: no scope held anything back, no rule to walk
    done = {item.rule.name for item in fired}
    found = (document.silenced(rule) for rule in rules if rule.name not in done)
    return [hit for hit in found if hit is not None]


def first_match(rule: Rule, document: Document) -> tuple[int, int] | None:
    """The span of the first match of the first pattern that fires, guards considered."""
    begin = earliest_match(rule, document)
    if begin is None:
        return None
    if rule.unless_scope == "message" and _any_search(rule.unless, document.folded):
        return None
    spots = document.spots(rule.name)
    for pattern, key in zip(rule.patterns, rule.keys, strict=True):
        # no pattern matches before `begin`, and a search from there sees the text before it
        # (`\b`, lookbehinds): the same matches as from the start, one scan shorter
        for match in _finditer(document, spots, pattern, key, begin):
            # every sentence the match touches: a match may run from the subject into the body
            start = document.sentence(match.start())[0]
            end = document.sentence(max(match.end() - 1, match.start()))[1]
            if rule.unless_scope == "sentence" and _any_search(
                rule.unless, document.folded[start:end]
            ):
                continue
            if document.outside(rule, match.start()):
                continue
            return match.span()
    return None


def _finditer(
    document: Document,
    spots: Sequence[tuple[int, str]] | None,
    pattern: re.Pattern[str],
    key: str,
    begin: int = 0,
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(document.folded, begin)`: at the `spots` of its rule's family where
    it may begin (its own literals, `key` in `RuleSet.anchors`) when known, else by a scan."""
    if spots is None or document.anchors is None:
        return pattern.finditer(document.folded, begin)
    return matches_at(pattern, document.folded, spots, document.anchors.literals_of[key], begin)


def matches_at(
    pattern: re.Pattern[str],
    text: str,
    spots: Sequence[tuple[int, str]],
    literals: frozenset[str],
    begin: int = 0,
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text, begin)`, when every match of `pattern` begins at a spot (place,
    literal) whose literal is one of `literals`: tried there only. A match tried at a place
    sees the whole text (`\\b`, lookbehinds), as a scan does, and the next one is looked for
    after it, as `finditer` does (each begins with a literal: none is empty)."""
    end = begin
    for place, literal in spots:
        if place >= end and literal in literals and (match := pattern.match(text, place)):
            yield match
            end = match.end()


_CLAUSE_BREAK = re.compile(r"[,:;.!?()]|\n[ \t]*\n|\s(ma|pero|mentre|invece)\s")
NEGATION_REACH = 50  # how far before a state its clause is searched for a negation


def earliest_match(rule: Rule, document: Document) -> int | None:
    """Where a match of one of `rule`'s patterns can start at the earliest, None if nowhere."""
    return document.earliest(rule.name, rule.screens)


def compose_match(rule: Rule, document: Document) -> Fired | None:
    """The first object/state pair of a compositional rule that no guard silences, boosted.

    Each family is scanned once over the whole text and each state is paired with the nearest
    object by bisection, so the cost stays linear in the text however many matches there are.
    """
    text = document.folded
    if rule.unless_scope == "message" and _any_search(rule.unless, text):
        return None
    spots = document.spots(rule.name)
    objects = sorted(
        m.span()
        for p, key in zip(rule.patterns, rule.keys, strict=True)
        for m in _finditer(document, spots, p, key)
    )
    if not objects:
        return None
    begin = document.earliest(near_key(rule), rule.near_screens)
    if begin is None:
        return None  # no state anywhere: one scan instead of one per `near` pattern
    starts = [start for start, _ in objects]
    best: tuple[tuple[int, int], tuple[int, int]] | None = None
    spots = document.spots(near_key(rule))
    for pattern, key in zip(rule.near, rule.near_keys, strict=True):
        # none starts before `begin` (see `first_match`)
        for state in _finditer(document, spots, pattern, key, begin):
            start, end = document.sentence(state.start())
            obj = _nearest(objects, starts, state.span(), rule.window, (start, end))
            if obj is None and start and _carries(text, start, state.span(), rule.window):
                previous = document.sentence(start - 1)
                obj = _carried(text, objects, starts, previous, start) or _topic(
                    text, objects, starts, previous, (start, state.start())
                )
            if obj is None or _negated(rule, text, state.start(), obj[0]):
                continue
            if rule.unless_scope == "sentence" and _any_search(rule.unless, text[start:end]):
                continue
            if document.outside(rule, state.start()):
                continue
            if best is None or state.start() < best[1][0]:
                best = (obj, state.span())
            break  # the first clean state of this pattern is enough
    if best is None:
        return None
    (o_start, o_end), (s_start, s_end) = best
    start, end = document.sentence(s_start)
    boosted = _any_search(rule.boost, text[start:end])
    first = min(o_start, s_start)
    where = document.evidence(first, max(o_end, s_end))
    part = document.part(first)
    where = where.removeprefix(f"[{part}] ") if part else where
    pair = f"{document.original[o_start:o_end]} + {document.original[s_start:s_end]}: {where}"
    evidence = f"[{part}] {pair}" if part else pair
    hit = Hit(rule.name, rule.field, rule.value, evidence)
    return Fired(rule, hit, rule.weight + (rule.boost_weight if boosted else 0.0), first)


def cancel(fired: Sequence[Fired]) -> list[Fired]:
    """The votes that stand: a negative vote («nessun pericolo») cancels the votes for its value
    found before the end of its sentence, then goes; a second danger told after it stands.
    A negative vote without a position (built by hand) counts as a plain negative weight."""
    negatives = [f for f in fired if f.weight < 0 and f.reach]
    if not negatives:
        return list(fired)
    return [
        f
        for f in fired
        if not (f.weight < 0 and f.reach)
        and not any(n.rule.value == f.rule.value and f.start < n.reach for n in negatives)
    ]


def _nearest(
    objects: Sequence[tuple[int, int]],
    starts: Sequence[int],
    state: tuple[int, int],
    window: int,
    sentence: tuple[int, int],
) -> tuple[int, int] | None:
    """The object closest to the state, either side, in its sentence and within `window`."""
    i = bisect.bisect_left(starts, state[0])
    best, gap = None, window + 1
    for j in (i - 2, i - 1, i, i + 1):
        if 0 <= j < len(objects):
            o_start, o_end = objects[j]
            if o_start < sentence[0] or o_end > sentence[1]:
                continue
            if o_end <= state[0] or o_start >= state[1]:  # never the same words
                distance = state[0] - o_end if o_end <= state[0] else o_start - state[1]
                if distance < gap:
                    best, gap = objects[j], distance
    return best


_WORD = re.compile(r"[^\W\d_]+|\d+")
_VERB = re.compile(r"\b(e|sono|ha|hanno|era|erano|sta|stanno|c|ci|ho|abbiamo|si|vi|scrivo)\b")
CARRY_WORDS = 10  # a sentence that only names the object is short
_NEW_SUBJECT = re.compile(r"\s*(il|lo|la|i|gli|le|l'|un|uno|una)\b", re.IGNORECASE)


def _carries(text: str, start: int, state: tuple[int, int], window: int) -> bool:
    """A sentence whose state may take its object from the sentence before: the state comes
    early and no new subject follows it («Storto il cartello» names its own)."""
    return state[0] - start <= window and not _NEW_SUBJECT.match(text, state[1])


def _carried(
    text: str,
    objects: Sequence[tuple[int, int]],
    starts: Sequence[int],
    previous: tuple[int, int],
    start: int,
) -> tuple[int, int] | None:
    """The object of the previous sentence, when that sentence only names it («Il palo davanti
    alla scuola. È tutto piegato.»): short, the object among its first words, no verb."""
    i = bisect.bisect_left(starts, start) - 1
    if i < 0 or objects[i][0] < previous[0]:
        return None
    sentence = text[previous[0] : previous[1]].lower()
    words = _WORD.findall(sentence[: CARRY_WORDS * 20])
    lead = _WORD.findall(text[previous[0] : objects[i][0]])
    if len(words) > CARRY_WORDS or len(lead) > 3 or _VERB.search(sentence):
        return None
    return objects[i]


TOPIC_WORDS = 8  # the object a sentence is about is among its first words
# a subject of its own before the state: an article not after a preposition («la tenda
# sbatte», not «con il vento ... si muove»)
_OWN_SUBJECT = re.compile(
    r"(?<!\bcon )(?<!\bdi )(?<!\bda )(?<!\bin )(?<!\bsu )(?<!\bper )(?<!\btra )(?<!\bfra )"
    r"(?<!\ba )\b(il|lo|la|i|gli|le|un|uno|una|questo|questa|quel|quella)\s+[^\W\d_]{3,}",
    re.IGNORECASE,
)


def _topic(
    text: str,
    objects: Sequence[tuple[int, int]],
    starts: Sequence[int],
    previous: tuple[int, int],
    lead: tuple[int, int],
) -> tuple[int, int] | None:
    """The object the previous sentence is about, when the state's sentence tells of it without
    naming a subject of its own («Il palo davanti alla chiesa è arrugginito alla base. Con il
    vento ho notato che si muove.»): among that sentence's first words."""
    i = bisect.bisect_left(starts, previous[0])
    if i >= len(objects) or objects[i][1] > previous[1]:
        return None
    if len(_WORD.findall(text[previous[0] : objects[i][0]])) >= TOPIC_WORDS:
        return None
    if _OWN_SUBJECT.search(text, *lead):
        return None
    return objects[i]


def _negated(rule: Rule, text: str, state_start: int, object_start: int) -> bool:
    """A negation in the state's clause before it, reaching back to the object if it precedes."""
    begin = max(
        0, min(state_start, object_start) - NEGATION_REACH // 2, state_start - NEGATION_REACH
    )
    before = text[begin:state_start]
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(before)]
    clause = before[breaks[-1] :] if breaks else before
    return _any_search(rule.negations, clause)


def _any_search(patterns: Iterable[re.Pattern[str]], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def scores(fired: Iterable[Fired]) -> dict[str, float]:
    """The sum of the weights voting for each value, after the negative votes' cancellations."""
    totals: dict[str, float] = {}
    grouped: dict[tuple[str, str], float] = {}
    for item in cancel(list(fired)):
        if item.rule.group and item.weight > 0:
            key = (item.rule.value, item.rule.group)
            grouped[key] = max(grouped.get(key, 0.0), item.weight)
        else:
            totals[item.rule.value] = totals.get(item.rule.value, 0.0) + item.weight
    for (value, _), weight in grouped.items():
        totals[value] = totals.get(value, 0.0) + weight
    return totals
