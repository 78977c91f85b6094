"""One scan that tells which rules can match a text at all.

Most rules match nothing in most messages, yet a screen (`rules.screen`) still scans the whole
text once per rule. Nearly every pattern, though, needs some literal words to match: "guast"
in `\\bguast[oiae]\\b`, one of "furt", "rubat", "ladr" in a list of thefts. This module reads
those literals out of each rule's patterns (from Python's own regex parser), and joins the
literals of all the rules into one regex shaped as a trie, run as a lookahead at every position:
one pass over the text finds every literal present, overlapping ones included, and the rules
none of whose literals is present are not tried.

It must never rule out a rule that matches. So a literal is taken only from what a pattern
cannot match without, and a rule with a pattern that needs no literal (`\\d{6}`, a lone
character class) is always tried. The text is matched lower-cased after `fold_case`, which
turns the few non-ASCII characters that Python's case-insensitive matching equates with an
ASCII letter (the Kelvin sign and "K", the long s and "s"…) into that letter.

The same regex trees also say where a match can begin (`Anchors`): `\\bguast[oiae]\\b` only
where "guasto", "guasti", "guasta" or "guaste" begins. One more trie scan of a lower-cased
ASCII text gives every such place, and a rule's screen (`rules.screen`) is tried at those few
places instead of being searched along the whole text, which was most of a message's cost.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from re import _constants as sre  # the regex parser's own opcodes
from re import _parser as sre_parse
from typing import Any

MAX_STRINGS = 64  # exact strings a node may stand for before it counts as inexact
MIN_LITERAL = 2  # a one-letter literal is in every text: it rules nothing out

# Non-ASCII characters that re.IGNORECASE matches with an ASCII letter (all of them, found by
# trying every code point; tests/rules/test_prefilter.py checks the list stays complete).
CASE_FOLDS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_CASE_FOLDED = tuple(map(chr, CASE_FOLDS))


def fold_case(text: str) -> str:
    """`text` as the prefilter reads it: lower-cased, every letter that case-insensitive
    matching equates with an ASCII one turned into it. Translated only when one is there: a
    translation of non-ASCII text looks every character up, twenty times a `lower`."""
    if not text.isascii() and any(char in text for char in _CASE_FOLDED):
        text = text.translate(CASE_FOLDS)
    return text.lower()


@dataclass(frozen=True)
class Prefilter:
    """The literals of a rule set in one lookahead trie, and the literals each rule needs."""

    scanner: re.Pattern[str] | None
    prefixes: dict[str, frozenset[str]]  # a literal -> it and every literal that begins it
    # a literal the scanner reports -> the rules its presence admits: those whose (first)
    # family needs it or a shorter literal that begins it (present too, where it is)
    admits: dict[str, frozenset[str]]
    always: frozenset[str]  # rules that need no literal
    also_needs: dict[str, tuple[frozenset[str], ...]]  # rule -> one of each of these too

    def candidates(self, folded_text: str) -> frozenset[str]:
        """Names of the rules that may match `folded_text` (as `fold_case` returns it)."""
        if self.scanner is None:
            return self.always
        found = set(self.scanner.findall(folded_text))
        admitted = self.always.union(*(self.admits[literal] for literal in found))
        second = admitted.intersection(self.also_needs)
        if not second:
            return admitted  # the common case: no rule with a second family to check
        present = set().union(*(self.prefixes[literal] for literal in found))
        return admitted.difference(
            name
            for name in second
            if any(group.isdisjoint(present) for group in self.also_needs[name])
        )


def build_prefilter(
    rules: Iterable[tuple[str, Sequence[Sequence[re.Pattern[str]]]]],
) -> Prefilter:
    """A prefilter for rules given as (name, pattern families): a rule matches only where each
    of its families does (a compositional rule's objects and states; a plain rule has one)."""
    admits: dict[str, set[str]] = {}
    always, also_needs = set(), {}
    for name, families in rules:
        groups = [g for g in (rule_literals(patterns) for patterns in families) if g is not None]
        if not groups:
            always.add(name)
            continue
        for literal in groups[0]:
            admits.setdefault(literal, set()).add(name)
        if len(groups) > 1:
            also_needs[name] = tuple(frozenset(group) for group in groups[1:])
    literals = set(admits).union(*(g for groups in also_needs.values() for g in groups))
    if not literals:
        return Prefilter(None, {}, {}, frozenset(always), {})
    prefixes = {
        literal: frozenset(literal[:end] for end in range(1, len(literal) + 1)) & literals
        for literal in literals
    }
    scanner = re.compile(f"(?=({trie_regex(literals)}))")
    # The scanner reports the longest literal at each place: the rules of the shorter ones
    # that begin it are joined here once, not per message.
    frozen = {
        literal: frozenset().union(*(admits.get(prefix, ()) for prefix in starts))
        for literal, starts in prefixes.items()
    }
    return Prefilter(scanner, prefixes, frozen, frozenset(always), also_needs)


def rule_literals(patterns: Sequence[re.Pattern[str]]) -> set[str] | None:
    """Literals one of which is in any text that one of `patterns` matches (lower-case), or
    None when some pattern needs none (or there is no pattern: nothing to rule out)."""
    if not patterns:
        return None
    found: set[str] = set()
    for pattern in patterns:
        literals = pattern_literals(pattern.pattern, pattern.flags)
        if literals is None:
            return None
        found |= literals
    # a literal that holds another is found only where that one is: the shorter suffices
    return {s for s in found if not any(o != s and o in s for o in found)}


def pattern_literals(pattern: str, flags: int = 0) -> set[str] | None:
    """Literals one of which is in every match of `pattern`, or None if it needs none."""
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    literals = _needed(list(tree))
    if literals is None or min(map(len, literals)) < MIN_LITERAL:
        return None
    return literals


# What a pattern needs, read closely: one entry per top-level alternative (`a|b` is two),
# each entry the literal sets (clauses) that a match of it holds one of each.
Needs = tuple[tuple[frozenset[str], ...], ...]


def pattern_needs(pattern: str, flags: int = 0) -> Needs | None:
    r"""The clauses each top-level alternative of `pattern` needs (`Needs`), None when one
    needs none. `se\s*(19|20)\d\d` needs «se» and one of «19», «20»: where
    `pattern_literals` reads one clause, this reads them all, and where it joins the
    alternatives of `a\s+che\s+ora|quanto\s+costa` («che» or «quanto»: nearly every text),
    this keeps them apart («che» and «ora», or «quanto» and «costa»)."""
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    items = list(tree)
    # `\ba|\bb` is parsed as `\b(?:a|b)`: the zero-width items before the alternation are
    # its alternatives' own
    *lead, (op, arg) = items or [(None, None)]
    if op is sre.BRANCH and all(item[0] in _ZERO_WIDTH for item in lead):
        alternatives = [lead + list(alternative) for alternative in arg[1]]
    else:
        alternatives = [items]
    found = []
    for alternative in alternatives:
        clauses = _clauses(alternative)
        if not clauses:
            return None
        found.append(tuple(frozenset(clause) for clause in clauses))
    return tuple(found)


def present(needs: Needs, text: str) -> bool:
    """True when some alternative of `needs` has a literal of each of its clauses in `text`
    (lower-cased, as the literals are): only then can the pattern match it."""
    # plain loops: read per marker per message, generators cost more than the `in`s
    for clauses in needs:
        for clause in clauses:
            for literal in clause:
                if literal in text:
                    break
            else:
                break  # a clause with none of its literals: this alternative cannot match
        else:
            return True  # every clause of this alternative has one
    return False


# ── the regex tree ────────────────────────────────────────────────────────────────────────────
# Each node is read two ways. `_exact`: the finite set of strings it matches, lower-cased (None
# if too many or unknown); zero-width nodes (\b, lookarounds) match the empty string. `_needed`:
# strings one of which is inside each of its matches (None if no such set is known).

_ZERO_WIDTH = {sre.AT, sre.ASSERT, sre.ASSERT_NOT}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}
_GROUPS = {sre.SUBPATTERN, sre.ATOMIC_GROUP}


def _exact(op: Any, arg: Any) -> set[str] | None:
    if op in _ZERO_WIDTH:
        return {""}
    if op is sre.LITERAL:
        return _char(arg)
    if op is sre.IN:
        return _char_class(arg)
    if op in _GROUPS:
        return _exact_sequence(_group_body(op, arg))
    if op is sre.BRANCH:
        strings = _union(_exact_sequence(list(alternative)) for alternative in arg[1])
        return strings if strings is not None and len(strings) <= MAX_STRINGS else None
    if op in _REPEATS and arg[0] == arg[1] == 1:
        return _exact_sequence(list(arg[2]))
    return None


def _exact_sequence(items: list[Any]) -> set[str] | None:
    strings = {""}
    for op, arg in items:
        exact = _exact(op, arg)
        if exact is None or len(strings) * len(exact) > MAX_STRINGS:
            return None
        strings = {a + b for a in strings for b in exact}
    return strings


def _needed(items: list[Any]) -> set[str] | None:
    """The best needed set of a sequence: a run of exact items, joined, or one inexact item's."""
    options: list[set[str]] = []
    run = {""}
    for op, arg in items:
        exact = _exact(op, arg)
        if exact is not None and len(run) * len(exact) <= MAX_STRINGS:
            run = {a + b for a in run for b in exact}
            continue
        options.append(run)
        run = exact if exact is not None else {""}
        if exact is None:
            options.append(_needed_item(op, arg) or {""})
    options.append(run)
    useful = [option for option in options if "" not in option]
    if not useful:
        return None
    return max(useful, key=lambda option: (min(map(len, option)), -len(option)))


def _clauses(items: list[Any]) -> list[set[str]]:
    """Every needed set of a sequence that tells texts apart (no literal shorter than
    `MIN_LITERAL`): the runs of exact items, joined, and each inexact item's (`_item_clauses`),
    all needed at once, since a match holds a match of each item."""
    clauses: list[set[str]] = []
    run = {""}
    for op, arg in items:
        exact = _exact(op, arg)
        if exact is not None and len(run) * len(exact) <= MAX_STRINGS:
            run = {a + b for a in run for b in exact}
            continue
        clauses.append(run)
        run = exact if exact is not None else {""}
        if exact is None:
            clauses += _item_clauses(op, arg)
    clauses.append(run)
    return [c for c in clauses if "" not in c and min(map(len, c)) >= MIN_LITERAL]


def _item_clauses(op: Any, arg: Any) -> list[set[str]]:
    """The needed sets of one inexact item: a group's or a repeated body's (at least once)
    are its sequence's; an alternation's is one set, a clause of each alternative joined (the
    one with the longest literals), none if an alternative has none."""
    if op in _GROUPS:
        return _clauses(_group_body(op, arg))
    if op is sre.BRANCH:
        joined: set[str] = set()
        for alternative in arg[1]:
            clauses = _clauses(list(alternative))
            if not clauses:
                return []
            joined |= max(clauses, key=lambda clause: (min(map(len, clause)), -len(clause)))
        return [joined]
    if op in _REPEATS and arg[0] >= 1:
        return _clauses(list(arg[2]))
    return []


def _needed_item(op: Any, arg: Any) -> set[str] | None:
    if op in _GROUPS:
        return _needed(_group_body(op, arg))
    if op is sre.BRANCH:
        return _union(_needed(list(alternative)) for alternative in arg[1])
    if op in _REPEATS and arg[0] >= 1:
        return _needed(list(arg[2]))
    return None


def _union(sets: Iterable[set[str] | None]) -> set[str] | None:
    """The strings of every alternative; None if one alternative's are unknown."""
    strings: set[str] = set()
    for alternative in sets:
        if alternative is None:
            return None
        strings |= alternative
    return strings


def _group_body(op: Any, arg: Any) -> list[Any]:
    return list(arg[-1]) if op is sre.SUBPATTERN else list(arg)


def _char(code: int) -> set[str] | None:
    char = chr(code)
    return {fold_case(char)} if char.isascii() else None


def _char_class(items: list[Any]) -> set[str] | None:
    """A small class of plain characters, e.g. `[oiae]`; anything else is inexact."""
    chars: set[str] = set()
    for op, arg in items:
        if op is sre.LITERAL:
            chars.add(chr(arg))
        elif op is sre.RANGE and arg[1] - arg[0] < 10:
            chars.update(chr(code) for code in range(arg[0], arg[1] + 1))
        else:
            return None
    if not all(char.isascii() for char in chars):
        return None
    return {fold_case(char) for char in chars}


def trie_regex(literals: Iterable[str]) -> str:
    """An alternation of `literals` shaped as a trie, longest first at each branch: Python's
    engine then tests one character per branch, and reports the longest literal at a place."""
    trie: dict[str, Any] = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alternatives = [re.escape(char) + emit(node[char]) for char in sorted(node) if char]
        if "" in node:
            alternatives.append("")  # the literal ending here: tried after the longer ones
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    return emit(trie)


# ── anchors: where a match can begin ──────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Anchors:
    """The strings each rule's matches begin with, in one lookahead trie: one scan of a text
    tells every place where each rule can match (see `pattern_starts`)."""

    scanner: re.Pattern[str] | None
    # a rule -> the literals whose report says that one of its starts is there: its own
    # starts and the longer literals they begin
    literals_of: dict[str, frozenset[str]]
    # a family of several patterns -> literal -> one regex of only those of its patterns that
    # may begin where that literal is reported (`build_anchors`): tried at a place, it says
    # whether the family matches there without trying every pattern of the family
    openers: dict[str, dict[str, re.Pattern[str]]] = field(default_factory=dict)

    @property
    def anchored(self) -> frozenset[str]:
        """The rules whose every pattern has starts: `where` knows all their places."""
        return frozenset(self.literals_of)

    def places(self, lowered: str) -> dict[str, list[int]]:
        """Literal -> where the scanner reports it in `lowered` (lower-cased ASCII text), in
        order: the longest literal at each place (at a word's start, of all the starts;
        elsewhere, of those not bound to one). Read per rule with `where`."""
        found: dict[str, list[int]] = {}
        if self.scanner is not None:
            for match in self.scanner.finditer(lowered):
                found.setdefault(match.group(match.lastindex or 0), []).append(match.start())
        return found

    def spots(self, places: dict[str, list[int]], rule: str) -> list[tuple[int, str]]:
        """(place, literal) wherever one of `rule`'s matches may begin, in order, from
        `places`: the literal says which of its patterns may (`literals_of` of each)."""
        found = self.literals_of[rule].intersection(places)
        if not found:
            return []
        if len(found) == 1:
            (literal,) = found
            return [(place, literal) for place in places[literal]]
        return sorted([(place, literal) for literal in found for place in places[literal]])

    def where(self, places: dict[str, list[int]], rule: str) -> list[int]:
        """Where one of `rule`'s matches may begin, in order, from `places`; nowhere else."""
        found = [places[literal] for literal in self.literals_of[rule].intersection(places)]
        if len(found) == 1:
            return found[0]
        return sorted(itertools.chain.from_iterable(found))  # one literal per place: no repeats


def build_anchors(rules: Iterable[tuple[str, Sequence[re.Pattern[str]]]]) -> Anchors:
    """Anchors for rules given as (name, patterns for lower-cased text, case-sensitive)."""
    starts: dict[str, set[str]] = {}
    anywhere: set[str] = set()  # the starts of patterns whose matches may begin inside a word
    several: dict[str, tuple[Sequence[re.Pattern[str]], list[set[str]]]] = {}
    for name, patterns in rules:
        found = [pattern_starts(p.pattern, p.flags) for p in patterns]
        if patterns and all(f is not None for f in found):
            starts[name] = set().union(*found)
            if len(patterns) > 1:
                several[name] = (patterns, found)  # type: ignore[assignment]
            for pattern, mine in zip(patterns, found, strict=True):
                if not at_word_boundary(pattern.pattern, pattern.flags):
                    anywhere |= mine or set()
    literals = set().union(*starts.values())
    if not literals:
        return Anchors(None, {name: frozenset() for name in starts})
    # a family's literals: its starts and the longer literals they begin
    owners: dict[str, list[str]] = {}
    for name, mine in starts.items():
        for start in mine:
            owners.setdefault(start, []).append(name)
    found: dict[str, set[str]] = {name: set() for name in starts}
    for literal in literals:
        for end in range(1, len(literal) + 1):
            for name in owners.get(literal[:end], ()):
                found[name].add(literal)
    literals_of = {name: frozenset(mine) for name, mine in found.items()}
    # Most patterns begin with `\b`: their starts are looked for where a word begins only
    # ("al" begins «al buio», not every «normale»), the others' everywhere.
    scanner = rf"\b(?=({trie_regex(literals)}))"
    if anywhere:
        scanner += f"|(?=({trie_regex(anywhere)}))"
    # re.ASCII: the scanner reads lower-cased ASCII text only, where `\b` means the same,
    # and tells a word character by a table instead of Unicode's database at every place
    return Anchors(re.compile(scanner, re.ASCII), literals_of, _openers(several, literals_of))


def _openers(
    several: dict[str, tuple[Sequence[re.Pattern[str]], list[set[str]]]],
    literals_of: dict[str, frozenset[str]],
) -> dict[str, dict[str, re.Pattern[str]]]:
    """`Anchors.openers`: for each family of several patterns, the literal reported at a place
    -> its patterns that may begin there, joined. A match begins with one of its pattern's
    starts, and the scanner reports the longest literal at a place, so that start begins the
    literal reported: the patterns none of whose starts begins it cannot match there. A family
    whose patterns cannot be joined safely (back-references) gets none."""
    openers: dict[str, dict[str, re.Pattern[str]]] = {}
    for name, (patterns, found) in several.items():
        begun_by: dict[str, set[int]] = {}  # a start -> the patterns it begins
        for i, mine in enumerate(found):
            for start in mine:
                begun_by.setdefault(start, set()).add(i)
        subsets: dict[str, list[int]] = {}
        for literal in literals_of[name]:
            ends = range(1, len(literal) + 1)
            subsets[literal] = sorted(set().union(*(begun_by.get(literal[:e], ()) for e in ends)))
        joined: dict[tuple[int, ...], re.Pattern[str] | None] = {}
        for subset in map(tuple, subsets.values()):
            if subset not in joined:
                joined[subset] = _join([patterns[i] for i in subset])
        if all(regex is not None for regex in joined.values()):
            openers[name] = {
                literal: joined[tuple(subset)]  # type: ignore[misc]
                for literal, subset in subsets.items()
            }
    return openers


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def _join(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str] | None:
    r"""One regex matching at a place where one of `patterns` does (the same flags), or None.
    Compiled with re.ASCII: openers are tried on lower-cased ASCII text only, where `\b`,
    `\w`, `\s` and `\d` mean what they mean in Unicode, and are told by a table instead of
    Unicode's database at each character."""
    flags = {p.flags for p in patterns}
    if len(flags) > 1 or any(_BACKREFERENCE.search(p.pattern) for p in patterns):
        return None
    source = "|".join(f"(?:{p.pattern})" for p in patterns) if len(patterns) > 1 else None
    try:
        return re.compile(source or patterns[0].pattern, flags.pop() & ~re.UNICODE | re.ASCII)
    except (re.error, ValueError):
        return None


def at_word_boundary(pattern: str, flags: int = 0) -> bool:
    """True when every match of `pattern` begins with `\\b` (each alternative, if several)."""
    try:
        items = list(sre_parse.parse(pattern, flags))
    except re.error:
        return False
    if len(items) == 1 and items[0][0] is sre.BRANCH:
        return all(_opens_with_boundary(list(branch)) for branch in items[0][1][1])
    return _opens_with_boundary(items)


def _opens_with_boundary(items: list[Any]) -> bool:
    """A `\\b` among the zero-width items that open `items` (lookarounds are tried at the
    same place: «(?<!via\\s)\\bcaduto» begins where a word does)."""
    for op, arg in items:
        if (op, arg) == (sre.AT, sre.AT_BOUNDARY):
            return True
        if op not in (sre.ASSERT, sre.ASSERT_NOT):
            return False
    return False


def pattern_starts(pattern: str, flags: int = 0) -> set[str] | None:
    """Strings one of which begins every match of `pattern` (a case-sensitive pattern for
    lower-cased text), or None when they are unknown or too short to tell places apart."""
    if flags & re.IGNORECASE:
        return None  # its letters would match capitals too: read the lower-case twin
    try:
        tree = sre_parse.parse(pattern, flags)
    except re.error:
        return None
    if tree.state.flags & re.IGNORECASE:
        return None  # an inline (?i)
    starts = _starts(list(tree))
    bounded = at_word_boundary(pattern, flags)
    return starts if all(_tells_apart(start, bounded) for start in starts) else None


def _tells_apart(start: str, bounded: bool) -> bool:
    """A start that is found at few places: two characters or more; or one, at the start of
    a word (`bounded`: «l» of «\\bl\\W?avete») or a mark rarely written («?»)."""
    if len(start) >= MIN_LITERAL:
        return True
    return len(start) == 1 and (bounded or not (start.isalnum() or start.isspace()))


def _starts(items: list[Any], depth: int = 0) -> set[str]:
    """Strings one of which begins every match of a sequence ({""} when nothing is known):
    the exact items that open it, joined; a group or an alternation opening it read with what
    follows it; an optional item either taken or skipped."""
    if not items or depth > MAX_DEPTH:
        return {""}
    (op, arg), rest = items[0], items[1:]
    exact = _ascii_class(op, arg) or _exact(op, arg)
    if exact is not None:
        after = _starts(rest, depth + 1)
        if len(exact) * len(after) > MAX_STARTS:
            return exact  # shorter strings, as true
        return {a + b for a in exact for b in after}
    if op in _GROUPS:
        return _starts(_group_body(op, arg) + rest, depth + 1)
    if op is sre.BRANCH:
        return set().union(*(_starts(list(alt) + rest, depth + 1) for alt in arg[1]))
    if op in _REPEATS and arg[1] == 1:  # x? : x then the rest, or the rest
        taken = _starts(list(arg[2]) + rest, depth + 1)
        return taken if arg[0] else taken | _starts(rest, depth + 1)
    if op in _REPEATS and arg[0] >= 1:
        return _starts(list(arg[2]), depth + 1)  # its first round begins the match
    return {""}


MAX_DEPTH = 12  # items read into a pattern for its starts: enough for the words that open it
MAX_STARTS = 4 * MAX_STRINGS  # starts of one sequence: a trie holds them cheaply

# `\s` is known only on ASCII text, the only text anchors are read on: "a" is too short to
# tell places apart, "a " with its space is not (`\ba\s+distanza`).
# So is `\d`: «5» or «1» before a digit (`\b([5-9]|\d\d)\s+pali`).
ASCII_SPACES = {chr(code) for code in range(128) if chr(code).isspace()}
ASCII_DIGITS = set("0123456789")


def _ascii_class(op: Any, arg: Any) -> set[str] | None:
    """What `\\s` or `\\d` (a class of one category) matches in ASCII text, else None."""
    if op is sre.IN and len(arg) == 1 and arg[0][0] is sre.CATEGORY:
        return {sre.CATEGORY_SPACE: ASCII_SPACES, sre.CATEGORY_DIGIT: ASCII_DIGITS}.get(arg[0][1])
    return None
