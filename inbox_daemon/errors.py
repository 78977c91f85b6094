"""One error kind per way the daemon reacts; only the CLI turns them into exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    usage = 1  # a command was given wrong arguments or named something that does not exist
    bad_config = 2  # refuse to start: systemd's RestartPreventExitStatus names this one
    store_unavailable = 3  # the database or the storage directory cannot be used
    input_not_stored = 4  # ingest: at least one input could not be stored at all
    source_failed = 5  # run --once: at least one source could not be read
    needs_attention = 6  # status: something needs a person (the output says what)
    other = 15


class InboxError(Exception):
    exit_code = ExitCode.other


class UsageError(InboxError):
    exit_code = ExitCode.usage


class ConfigError(InboxError):
    """The configuration is invalid; `problems` lists every `key: problem` found."""

    exit_code = ExitCode.bad_config

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


class StoreError(InboxError):
    exit_code = ExitCode.store_unavailable


class SourceError(InboxError):
    """Transient trouble with a source: log once, back off, retry on the next poll."""
