"""Field types that resolve what the file names relative to its own folder.

A field that is a path says so in its type, so no key can be left out of the resolution (a
hand-kept list of keys once forgot `[pec] trust_store` and dropped `[storage] sync`). The
folder comes from pydantic's validation context; without one (a model built in code) a path
stays as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

BASE_DIR = "base_dir"  # the validation-context key holding the config file's folder
SQLITE_PREFIX = "sqlite:///"


def _base(info: ValidationInfo) -> Path | None:
    return (info.context or {}).get(BASE_DIR)


def _beside_config(value: Path, info: ValidationInfo) -> Path:
    base = _base(info)
    return value if base is None or value.is_absolute() else base / value


def _sqlite_beside_config(url: str, info: ValidationInfo) -> str:
    """`sqlite:///tickets.db` is a file beside the config; `sqlite:////abs` is absolute."""
    base = _base(info)
    relative = url.startswith(SQLITE_PREFIX) and not url.startswith(SQLITE_PREFIX + "/")
    if base is None or not relative or ":memory:" in url:
        return url
    return SQLITE_PREFIX + str(base / url.removeprefix(SQLITE_PREFIX))


ConfigPath = Annotated[Path, AfterValidator(_beside_config)]
DatabaseUrl = Annotated[str, AfterValidator(_sqlite_beside_config)]
