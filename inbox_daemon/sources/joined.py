"""Several bytes objects read as one binary file, without ever joining them.

The SMTP ingress stores its trace headers followed by the message aiosmtpd received; joined
with `+`, a 45 MB message would be copied whole once more only to be written out. Given to
the spool as `Incoming.file`, this is copied by the blob store a chunk at a time, as a drop
file is (`blobs.py`), and seeked back to its start should the store be tried again.
"""

from __future__ import annotations

import io
from typing import BinaryIO, cast


class JoinedReader(io.RawIOBase):
    """`parts` one after the other, as a readable, seekable file (never as one bytes)."""

    def __init__(self, *parts: bytes) -> None:
        super().__init__()
        self._parts = [memoryview(part) for part in parts if part]
        self._size = sum(len(part) for part in self._parts)
        self._position = 0

    def binary(self) -> BinaryIO:
        """This reader, typed as the binary file that `Incoming.file` takes."""
        return cast(BinaryIO, self)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` from the current position, across the parts' boundaries."""
        out = memoryview(buffer).cast("B")
        written, start = 0, 0  # start: where the part at hand begins in the whole
        for part in self._parts:
            end = start + len(part)
            if self._position < end and written < len(out):
                begin = self._position - start
                count = min(len(part) - begin, len(out) - written)
                out[written : written + count] = part[begin : begin + count]
                written += count
                self._position += count
            start = end
        return written

    def close(self) -> None:
        self._parts = []  # the message's bytes are let go with the reader's last use
        super().close()
