"""Configure fuzz: mutated configure scripts on a CIB file (``defib.testing.configure_fuzz``).

    python -m bench.configure_fuzz [--scripts 10000] [--seed 1] [--save DIR]

A script passes when it is applied, or refused with every error located and the CIB file
unchanged. Anything else (a traceback, an unlocated refusal, a file changed by a refused
script) is printed once per kind and saved under ``--save``; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from defib.testing.configure_fuzz import Fuzzer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.configure_fuzz")
    parser.add_argument("--scripts", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    counts: collections.Counter[str] = collections.Counter()
    bad: list[tuple[int, str, str, str]] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="defib-cfuzz-") as scratch:
        os.chdir(scratch)  # whatever a script names relative lands here
        fuzzer = Fuzzer(Path(scratch) / "cib.xml")
        for index in range(args.scripts):
            text = fuzzer.script(args.seed, index)
            outcome = fuzzer.run(text)
            counts[outcome.kind] += 1
            if outcome.kind not in ("applied", "refused"):
                bad.append((index, outcome.kind, text, outcome.detail))
    took = time.monotonic() - start
    print(f"{args.scripts} scripts (seed {args.seed}, {len(fuzzer.statements)} corpus"
          f" statements) in {took:.0f}s ({1000 * took / max(1, args.scripts):.1f} ms each):"
          f" {dict(sorted(counts.items()))}")
    for index, kind, text, detail in bad[:20]:
        print(f"--- script {index}: {kind}\n{text}\n{detail}")
    if args.save is not None and bad:
        args.save.mkdir(parents=True, exist_ok=True)
        for index, kind, text, detail in bad:
            (args.save / f"script-{args.seed}-{index}.crm").write_text(text)
            (args.save / f"script-{args.seed}-{index}.{kind}").write_text(detail)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
