"""`JoinedReader`: parts read as one file, across their boundaries, again after a seek."""

from __future__ import annotations

import io
import os

import pytest

from inbox_daemon.blobs import BlobStore
from inbox_daemon.sources.joined import JoinedReader

PARTS = (b"Return-Path: <a@b.it>\r\n", b"", os.urandom(5000), b"x", os.urandom(3001))
WHOLE = b"".join(PARTS)


@pytest.mark.parametrize("chunk", [1, 7, 23, 24, 4096, 100_000])
def test_reads_the_parts_in_order_in_any_chunk_size(chunk: int) -> None:
    reader = JoinedReader(*PARTS)
    pieces = []
    while piece := reader.read(chunk):
        assert len(piece) <= chunk
        pieces.append(piece)
    assert b"".join(pieces) == WHOLE
    assert reader.tell() == len(WHOLE) and reader.read(10) == b""


def test_seek_to_the_start_reads_it_all_again_and_seek_end_gives_the_size() -> None:
    reader = JoinedReader(*PARTS)
    assert reader.read() == WHOLE
    assert reader.seek(0) == 0 and reader.read() == WHOLE
    assert reader.seek(0, io.SEEK_END) == len(WHOLE)
    reader.seek(30)
    assert reader.read(10) == WHOLE[30:40]
    assert reader.seek(-5, io.SEEK_CUR) == 35 and reader.read() == WHOLE[35:]
    with pytest.raises(ValueError):
        reader.seek(-1)


def test_the_blob_store_stores_the_joined_bytes(tmp_path) -> None:
    store = BlobStore(tmp_path)
    [sha] = store.put_many("raw", [JoinedReader(*PARTS).binary()])
    assert store.get("raw", sha) == WHOLE
    assert store.put("raw", WHOLE) == sha  # the same content, the same name
