"""Keys the file may hold (DESIGN.md names them) that nothing acts on yet.

Accepting such a key silently would let an operator believe, say, that emergencies are
alerted. `check-config` refuses each one by its key; the other commands warn once per key
and go on, so a file written for the whole design still runs. The issue that implements a
key deletes its line here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from inbox_daemon.config.base import toml_key, walk

# (model, key within it) -> what is missing. A dotted key names an entry of a table.
NOT_ACTED_ON: dict[tuple[type[BaseModel], str], str] = {}  # every key is acted on today


def not_acted_on(config: BaseModel) -> list[str]:
    """`key.path: not acted on yet: …` for each such key the file sets."""
    return [
        f"{key}.{name}: not acted on yet: {why}"
        for key, model in walk(config)
        for (cls, name), why in NOT_ACTED_ON.items()
        if isinstance(model, cls) and _given(model, name)
    ]


def _given(model: BaseModel, dotted: str) -> bool:
    name, _, entry = dotted.partition(".")
    fields = {toml_key(model, field): field for field in model.model_fields_set}
    if name not in fields:
        return False
    value: Any = getattr(model, fields[name])
    return not entry or (isinstance(value, dict) and entry in value)
