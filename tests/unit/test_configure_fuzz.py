"""The fast portion of the configure fuzz (``make fuzz`` runs 10,000 scripts): mutated
statements of crmsh's scripts and defib's docs on a CIB file never raise, every refusal is
located, and a refused script leaves the file byte for byte as it was."""

from __future__ import annotations

import collections
import logging
from pathlib import Path

import pytest

from defib.testing.configure_fuzz import SHARED, Fuzzer

SCRIPTS = 1000


@pytest.mark.skipif(not (SHARED / "crmsh-cases").is_dir(), reason="needs ../shared")
def test_a_thousand_mutated_configure_scripts(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # whatever a script names relative lands here
    logging.disable(logging.WARNING)
    try:
        fuzzer = Fuzzer(tmp_path / "cib.xml")
        assert len(fuzzer.statements) > 300
        counts: collections.Counter[str] = collections.Counter()
        bad = []
        for index in range(SCRIPTS):
            text = fuzzer.script(7, index)
            outcome = fuzzer.run(text)
            counts[outcome.kind] += 1
            if outcome.kind not in ("applied", "refused"):
                bad.append(f"script {index} ({outcome.kind}):\n{text}\n{outcome.detail}")
    finally:
        logging.disable(logging.NOTSET)
    print(f"\n{SCRIPTS} configure scripts: {dict(counts)}")
    assert not bad, "\n\n".join(bad[:5])
    # Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert counts["applied"] >= 20 and counts["refused"] >= 500
