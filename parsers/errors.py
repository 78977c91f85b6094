"""Errors raised by the parsers package.

The daemon's analysis turns one into a final failure of that message alone: it is quarantined
at once with the reason (the same bytes will never parse better), and nothing else stops.
"""


class ParseError(Exception):
    """The input holds no recoverable e-mail: no headers and no readable text."""
