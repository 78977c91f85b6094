"""What verifying one PEC envelope costs, beside `openssl smime -verify` on the same files.

    .venv/bin/python bench/pec_verify.py            # --rounds 20

A report, not a test (issue 14: ≤ 5 ms per envelope on this machine). For each real sample
that carries a signature (shared/samples/pec) and for a generated sha256 envelope:
`parsers.pec.inspect` in this process (structure, CMS digest and signature, chain at the
signing time), first call and the median of `--rounds` calls; then one `openssl smime
-verify -attime <signing time>` process per message, the cost an external-program design
would pay (its process start included, as it would be per message).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import parsers.mime  # noqa: E402
from parsers.pec import TrustStore, inspect  # noqa: E402
from tests.pec import build  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples" / "pec"
MOZILLA = Path("/etc/ssl/certs/ca-certificates.crt")


def timed(fn, rounds: int) -> tuple[float, float]:
    started = time.perf_counter()
    fn()
    first = time.perf_counter() - started
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return first * 1000, statistics.median(runs) * 1000


def openssl_ms(path: Path, cafile: Path, signing_time, rounds: int) -> float:
    args = ["openssl", "smime", "-verify", "-CAfile", str(cafile), "-in", str(path)]
    if signing_time is not None:
        args += ["-attime", str(int(signing_time.timestamp()))]
    runs = []
    for _ in range(max(3, rounds // 4)):
        started = time.perf_counter()
        done = subprocess.run([*args, "-out", "/dev/null"], capture_output=True)
        runs.append(time.perf_counter() - started)
    ok = b"successful" in done.stderr
    return statistics.median(runs) * 1000 * (1 if ok else -1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    mozilla = TrustStore.from_pem(MOZILLA.read_bytes())
    pki = build.make_pki()
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated-sha256.eml"
        generated.write_bytes(build.envelope(pki))
        ca = Path(tmp) / "ca.pem"
        ca.write_bytes(pki.trust_pem)
        own = TrustStore.from_pem(pki.trust_pem)
        cases = [(p, mozilla, MOZILLA) for p in sorted(SAMPLES.glob("*.eml"))]
        cases.append((generated, own, ca))
        print(f"{'file':<48} {'certified':>9} {'first ms':>9} {'median ms':>10} {'openssl ms':>11}")
        for path, trust, cafile in cases:
            raw = path.read_bytes()
            received = parsers.mime.parse(raw).top_received_at
            pec = inspect(raw, trust, received)
            if pec is None or (pec.signer is None and "firma assente" in (pec.reason or "")):
                continue  # no signature to verify
            first, median = timed(lambda r=raw, t=trust, at=received: inspect(r, t, at), rounds)
            ossl = openssl_ms(path, cafile, pec.signing_time, rounds)
            shown = f"{ossl:.1f}" if ossl >= 0 else f"fail {-ossl:.1f}"
            print(f"{path.name:<48} {pec.certified!s:>9} {first:>9.1f} {median:>10.1f} {shown:>11}")


if __name__ == "__main__":
    main()
