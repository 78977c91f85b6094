"""Shared fixtures: a daemon configuration in a temporary folder, and its context."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inbox_daemon.config import Config, config_from_dict
from inbox_daemon.context import Context, build_context

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO.parent / "shared" / "samples"
DEMO_MESSAGES = REPO / "tests" / "data" / "demo"

BASE_CONFIG = """
[database]
url = "sqlite:///tickets.db"
[storage]
dir = "store"
[calendar]
timezone = "Europe/Rome"
opening_hours = "mon-fri 08:30-17:30"
holidays = "IT"
"""


def shared_samples(folder: str) -> Path:
    path = SHARED_SAMPLES / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the shared samples sit beside the repository")
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A Config rooted in tmp_path: BASE_CONFIG, plus extra TOML text, plus dict overrides."""

    def make(extra: str = "", **overrides: Any) -> Config:
        data = tomllib.loads(BASE_CONFIG + extra)
        data.update(overrides)
        path = tmp_path / "config.toml"
        return config_from_dict(data, base_dir=tmp_path, path=path)

    return make


@pytest.fixture
def make_context(make_config: Callable[..., Config]) -> Callable[..., Context]:
    def make(extra: str = "", **overrides: Any) -> Context:
        return build_context(make_config(extra, **overrides))

    return make


@pytest.fixture
def ctx(make_context: Callable[..., Context]) -> Context:
    return make_context()
