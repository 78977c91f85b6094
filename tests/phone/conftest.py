"""The phone tests' shared pieces: a site's config file, and a real WAV49 recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.phone.recordings import encode, speak


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def gsm_wav(tmp_path_factory) -> bytes:
    """Spoken Italian, as Asterisk stores it with `format=wav49` (GSM 6.10 in WAV)."""
    return encode(speak(tmp_path_factory.mktemp("speech")), "wav49")
