"""Errors raised by the parsers package.

The pipeline wraps them in its own `MessageError`, so a message that cannot be read is
quarantined with a readable reason instead of stopping the daemon.
"""


class ParseError(Exception):
    """The input holds no recoverable e-mail: no headers and no readable text."""
