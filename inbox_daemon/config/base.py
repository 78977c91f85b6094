"""The base of every config model, and a walk over a loaded config's tree of models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    # validate_default and revalidate_instances: a default (`dir = "store"`, a section left
    # out, whose default is a model built before any file was read) goes through the same
    # validators as a value from the file, so a relative default path is resolved too.
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, revalidate_instances="always"
    )


def toml_key(model: BaseModel, field: str) -> str:
    """The key an operator writes for `field` (its alias, e.g. `from` for `from_`)."""
    return type(model).model_fields[field].alias or field


def walk(model: BaseModel, key: str = "") -> Iterator[tuple[str, BaseModel]]:
    """Every model in the tree with its key path as an operator reads it: `sources[1].smtp`."""
    yield key, model
    for field in type(model).model_fields:
        child_key = f"{key}.{toml_key(model, field)}" if key else toml_key(model, field)
        yield from _walk_value(getattr(model, field), child_key)


def _walk_value(value: Any, key: str) -> Iterator[tuple[str, BaseModel]]:
    if isinstance(value, BaseModel):
        yield from walk(value, key)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk_value(item, f"{key}[{i}]")
