"""The acknowledgement sink of the SMTP tests: PEC receipts confirm acknowledgements."""

from tests.smtp.conftest import ack_sink, make_sink  # noqa: F401 - fixtures used here
