"""The pole register: loaded from the operator's CSV, then asked by code and by street.

`poles import` reads the file once, row by row, inside one transaction that first empties
the table: a file with any bad row is rolled back whole (every error named by line and
column), so the register is always the old one or the new one, never half of each. Rows are
never all held in memory: a regional register of 250,000 poles loads in a few seconds in a
few tens of megabytes.

A running daemon keeps the set of codes in memory (`PoleRegister`), which is what corrects a
slip in a code in microseconds; it re-reads it when the register's `version` changes, so a
re-import reaches it without a restart.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, case, delete, func, insert
from sqlmodel import Session, col, select

import rules
from inbox_daemon.errors import ExitCode, InboxError, UsageError
from inbox_daemon.store.db import transaction
from inbox_daemon.store.models import Pole, PoleRegister
from inbox_daemon.store.types import utcnow
from rules.addresses import split_address
from rules.register import Located, PoleIndex

REQUIRED = ("code", "address", "municipality", "lat", "lon")
CHUNK = 5000  # rows per INSERT
MAX_REPORTED = 50  # row errors listed; the rest are counted
MAX_CANDIDATES = 10
IMPORT_CACHE_KB = 65536  # SQLite's page cache while importing (its default is 2 MB)
_DIGITS = re.compile(r"\d")


class RegisterError(InboxError):
    """The file cannot become the register; nothing was loaded."""

    exit_code = ExitCode.input_not_stored

    def __init__(self, source: str, problems: list[str], more: int = 0) -> None:
        self.problems = problems
        tail = [f"  … and {more} more"] if more else []
        lines = "\n".join([f"  {p}" for p in problems] + tail)
        super().__init__(f"{source}: not loaded, the register is unchanged:\n{lines}")


@dataclass(frozen=True)
class Imported:
    poles: int
    replaced: int  # poles of the register before
    version: int
    sha256: str


def import_register(
    engine: Engine, path: Path, formats: Sequence[rules.PoleFormat], progress: Any = None
) -> Imported:
    """Replace the register with the poles of the CSV at `path`; raise RegisterError when any
    row is wrong. `progress` (a tqdm bar, say) is told of every row read."""
    try:
        encoding, digest = _encoding_and_digest(path)
        with path.open(encoding=encoding, newline="") as file:
            return _replace(engine, path, file, digest, formats, progress)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None


def _replace(
    engine: Engine,
    path: Path,
    file: IO[str],
    digest: str,
    formats: Sequence[rules.PoleFormat],
    progress: Any,
) -> Imported:
    with transaction(engine) as session:
        if engine.dialect.name == "sqlite":  # the two indexes of a big register fit in cache
            session.connection().exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KB}")
        replaced = session.exec(select(func.count()).select_from(Pole)).one()
        session.exec(delete(Pole))
        errors, count = _load(session, path.name, _rows(path.name, file), formats, progress)
        if errors or count == 0:
            session.rollback()
            raise RegisterError(str(path), errors[:MAX_REPORTED] or ["no poles in the file"],
                                max(len(errors) - MAX_REPORTED, 0))  # fmt: skip
        state = session.get(PoleRegister, 1) or PoleRegister(id=1)
        state.version += 1
        state.poles, state.sha256 = count, digest
        state.source, state.imported_at = str(path.resolve()), utcnow()
        session.add(state)
        version = state.version
    return Imported(count, replaced, version, digest)


def _encoding_and_digest(path: Path) -> tuple[str, str]:
    """One pass over the bytes: their sha256, and whether they are UTF-8 (else they are what a
    spreadsheet saves as "CSV" on Windows, cp1252). The file is never held whole."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    return ("utf-8-sig" if utf8 else "cp1252"), digest.hexdigest()


def _rows(name: str, file: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs; the delimiter (`,` or, from Italian spreadsheets, `;`) is sniffed."""
    header = file.readline()
    file.seek(0)
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(file, delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise RegisterError(name, [f"line 1: missing column(s): {', '.join(missing)}"])
    reader.fieldnames = fields
    for row in reader:
        yield reader.line_num, row


def _load(
    session: Session,
    name: str,
    rows: Iterator[tuple[int, dict[str, str]]],
    formats: Sequence[rules.PoleFormat],
    progress: Any,
) -> tuple[list[str], int]:
    errors: list[str] = []
    seen: set[str] = set()
    chunk: list[dict[str, Any]] = []
    count = 0
    connection = session.connection()
    for line, row in rows:
        if progress is not None:
            progress.update()
        pole, problems = _pole(row, formats)
        if pole is not None and pole["code"] in seen:
            problems.append(f"column code: {pole['code']!r} is already on an earlier line")
        errors.extend(f"{name}:{line}: {problem}" for problem in problems)
        if problems or pole is None or errors:
            continue  # once a row is wrong nothing will be kept: only look for more errors
        seen.add(pole["code"])
        chunk.append(pole)
        count += 1
        if len(chunk) == CHUNK:
            connection.execute(insert(Pole), chunk)
            chunk = []
    if chunk and not errors:
        connection.execute(insert(Pole), chunk)
    return errors, count


def _pole(
    row: dict[str, str | None], formats: Sequence[rules.PoleFormat]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The `pole` row of a CSV row, or the problems that keep it out."""
    value = {key: (text or "").strip() for key, text in row.items() if key is not None}
    problems = [f"column {key}: empty" for key in REQUIRED if not value.get(key)]
    coords = {}
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        number = _number(value.get(key, ""))
        if value.get(key) and (number is None or not -limit <= number <= limit):
            problems.append(f"column {key}: {value[key]!r} is not a {key} in degrees")
        coords[key] = number
    if len(value.get("code", "")) > 64:
        problems.append("column code: longer than 64 characters")
    if problems:
        return None, problems
    street, civic = split_address(value["address"])
    extra = {k: v for k, v in value.items() if k not in REQUIRED and v}
    return {
        "code": canonical_code(value["code"], formats),
        "address": value["address"][:255],
        "municipality": value["municipality"][:128],
        "lat": coords["lat"],
        "lon": coords["lon"],
        "street": street[:255],
        "civic": civic,
        "extra": extra or None,
    }, []


def _number(text: str) -> float | None:
    try:
        number = float(text.replace(",", "."))  # decimal comma, as Italian spreadsheets write
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def canonical_code(code: str, formats: Sequence[rules.PoleFormat]) -> str:
    """A register's code in the form the rules give codes found in text («ip004512» and
    «IP 004512» are both IP-004512), so that the two meet; a code of no configured format is
    kept as written, in capitals."""
    code = code.strip()
    if _canonical_shape(_DIGITS.sub("0", code), tuple(formats)):
        return code  # the common case, known from the first code of the same shape
    hits = rules.find_poles(code, formats)
    if len(hits) == 1 and hits[0].raw.strip() == code:
        return hits[0].code
    return code.upper()


@lru_cache(maxsize=256)
def _canonical_shape(shape: str, formats: tuple[rules.PoleFormat, ...]) -> bool:
    """Whether codes of this shape (digits as 0) are canonical already: the rules treat every
    digit alike, so one code answers for all of its shape."""
    hits = rules.find_poles(shape, formats)
    return len(hits) == 1 and hits[0].raw == shape and hits[0].code == shape


@dataclass(frozen=True)
class Snapshot:
    """The register as one daemon process holds it: its codes and streets, and their version."""

    version: int
    index: PoleIndex
    streets: frozenset[str]


class LoadedRegister:
    """The register for the locate stage: the codes in memory, everything else asked of the
    database. Reloaded when another process imports a new register (`version` changes)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._snapshot = Snapshot(-1, PoleIndex(()), frozenset())

    def current(self) -> Snapshot:
        """The register now, re-read first if a newer one was imported (one small query)."""
        with transaction(self.engine) as session:
            state = session.get(PoleRegister, 1)
            version = state.version if state else 0
            if version != self._snapshot.version:
                codes = session.exec(select(Pole.code)).all()
                streets = session.exec(select(Pole.street).distinct()).all()
                self._snapshot = Snapshot(version, PoleIndex(codes), frozenset(streets))
        return self._snapshot

    def poles(self, codes: Sequence[str]) -> dict[str, Pole]:
        with transaction(self.engine) as session:
            return {p.code: p for p in session.exec(select(Pole).where(col(Pole.code).in_(codes)))}

    def nearest(self, street: str, civic: int | None, limit: int = MAX_CANDIDATES) -> list[str]:
        """Codes of the poles of `street`, nearest civic number first (numbered ones first)."""
        query = select(Pole.code).where(Pole.street == street)
        if civic is not None:
            unnumbered = case((col(Pole.civic).is_(None), 1), else_=0)
            query = query.order_by(unnumbered, func.abs(col(Pole.civic) - civic), Pole.code)
        else:
            query = query.order_by(Pole.civic, Pole.code)
        with transaction(self.engine) as session:
            return list(session.exec(query.limit(limit)))


def location(pole: Pole, located: Located) -> dict[str, Any]:
    """The export's `location` (DESIGN.md contract), with the register's other columns."""
    return {
        "pole": pole.code,
        "address": pole.address,
        "municipality": pole.municipality,
        "lat": pole.lat,
        "lon": pole.lon,
        "match": located.match,
        "read_as": located.read if located.match == "corrected" else None,
        "extra": pole.extra or {},
    }
