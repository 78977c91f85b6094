"""A 3-minute GSM-WAV (WAV49) voicemail normalised to standard WAV and stored durably.

    .venv/bin/python bench/voicemail_audio.py          # --minutes 3 --n 10

A report, not a test (issue 21: ≤ 1 s). The recording is spoken by espeak-ng, looped to
`--minutes` and encoded as GSM 6.10 in WAV by ffmpeg, as Asterisk's `format=wav49` stores
it; each run is `parsers.phone.audio.normalise` (ffprobe + ffmpeg) and a durable
`BlobStore.put` of the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from inbox_daemon.blobs import BlobStore  # noqa: E402
from parsers.phone.audio import normalise  # noqa: E402
from tests.phone.recordings import encode, speak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        gsm = encode(speak(Path(folder), seconds=args.minutes * 60), "wav49")
        blobs = BlobStore(Path(folder) / "store")
        times, cpu = [], []
        for _ in range(args.n):
            start, used = time.perf_counter(), _cpu()
            out = normalise(gsm)
            blobs.put("attachments", out.wav + str(time.time_ns()).encode())  # a new file each
            times.append(time.perf_counter() - start)
            cpu.append(_cpu() - used)
    print(f"{args.minutes:g}-minute WAV49: {len(gsm)} bytes in, {len(out.wav)} bytes out")
    print(f"normalise + store, {args.n} runs: median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s (target ≤ 1 s); CPU (ours and ffmpeg's) median "
          f"{statistics.median(cpu):.3f} s, load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def _cpu() -> float:
    """CPU seconds of this process and its finished children: what the machine's load
    does not inflate."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


if __name__ == "__main__":
    main()
