"""The digests reproduce those Pacemaker recorded in its own scheduler regression cases.

For every recorded operation whose resource is a plain primitive with rule-free
parameters, the op-digest computed from the configuration must equal the recorded one,
unless the case changed the definition on purpose (that is what many cases test), so the
test reports the match rate and requires it to be high, and requires every restart and
secure digest (recomputed from the recorded name lists) to match too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from defib.cib.digest import (
    op_digest,
    restart_digest_for_list,
    secure_digest_for_list,
)

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "scheduler-cases" / "xml"

_UNITS = {"": 1000, "s": 1000, "sec": 1000, "ms": 1, "msec": 1, "m": 60000, "min": 60000,
          "h": 3600000, "hr": 3600000}


def _ms(text: str | None, default: int) -> int:
    if not text:
        return default
    m = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", text)
    if m and m.group(2) in _UNITS:
        return int(m.group(1)) * _UNITS[m.group(2)]
    iso = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text.strip())
    if iso:
        h, mi, s = (int(g or 0) for g in iso.groups())
        return ((h * 60 + mi) * 60 + s) * 1000
    return default


@dataclass
class Tally:
    compared: int = 0
    matched: int = 0
    restart_compared: int = 0
    restart_matched: int = 0
    secure_compared: int = 0
    secure_matched: int = 0
    old_skipped: int = 0
    mismatches: list[str] = field(default_factory=list)


def _simple_params(prim: ET.Element) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for ia in prim.findall("instance_attributes"):
        if ia.find("rule") is not None or ia.get("id-ref"):
            return None
        for nv in ia.findall("nvpair"):
            if nv.get("id-ref") is not None or nv.get("value") is None:
                return None
            params.setdefault(nv.get("name", ""), nv.get("value", ""))
    return params


def _op_timeout(prim: ET.Element, task: str, interval: int, default_timeout: int) -> int:
    for op in prim.findall("operations/op"):
        if op.get("name") == task and _ms(op.get("interval"), 0) == interval:
            timeout = op.get("timeout")
            for nv in op.findall("meta_attributes/nvpair"):
                if nv.get("name") == "timeout":
                    timeout = nv.get("value")
            return _ms(timeout, default_timeout)
    return default_timeout


def _op_extra(prim: ET.Element, task: str, interval: int) -> dict[str, str]:
    extra: dict[str, str] = {}
    for op in prim.findall("operations/op"):
        if op.get("name") == task and _ms(op.get("interval"), 0) == interval:
            for nv in op.findall("instance_attributes/nvpair"):
                extra[nv.get("name", "")] = nv.get("value", "")
    return extra


def tally_case(path: Path, tally: Tally) -> None:
    root = ET.parse(path).getroot()
    prims = {p.get("id"): p for p in root.iter("primitive") if p.get("template") is None}
    default_timeout = 20000
    for nv in root.findall("configuration/op_defaults/meta_attributes/nvpair"):
        if nv.get("name") == "timeout":
            default_timeout = _ms(nv.get("value"), 20000)
    for lrm_rsc in root.iter("lrm_resource"):
        rsc_id = (lrm_rsc.get("id") or "").split(":")[0]
        prim = prims.get(rsc_id)
        if prim is None or prim.get("type") != lrm_rsc.get("type"):
            continue
        params = _simple_params(prim)
        if params is None:
            continue
        for op in lrm_rsc.findall("lrm_rsc_op"):
            recorded = op.get("op-digest")
            task = op.get("operation", "")
            if recorded is None or task in ("notify", "delete") or op.get("op-status") == "-1":
                continue
            interval = int(op.get("interval") or 0)
            feature = tuple(int(x) for x in re.findall(r"\d+", op.get("crm_feature_set") or "0"))
            if feature < (3, 0, 0):
                # Pacemaker 1.0 filtered parameters differently; 2.1.5 never records these.
                tally.old_skipped += 1
                continue
            full = {**params, **_op_extra(prim, task, interval)}
            timeout = _op_timeout(prim, task, interval, default_timeout)
            tally.compared += 1
            if op_digest(full, interval_ms=interval, timeout_ms=timeout) == recorded:
                tally.matched += 1
            else:
                tally.mismatches.append(f"{path.stem}:{op.get('id')}")
                continue
            # The definition is unchanged: the restart and secure digests must match too.
            force = op.get("op-force-restart")
            if force is not None and op.get("op-restart-digest"):
                tally.restart_compared += 1
                got = restart_digest_for_list(full, force)
                tally.restart_matched += got == op.get("op-restart-digest")
            secure = op.get("op-secure-params")
            if secure is not None and op.get("op-secure-digest") and feature >= (3, 16, 0):
                tally.secure_compared += 1
                meta = {"CRM_meta_interval": str(interval), "CRM_meta_timeout": str(timeout)}
                got = secure_digest_for_list({**full, **meta}, secure)
                tally.secure_matched += got == op.get("op-secure-digest")


def test_recorded_digests_are_reproduced() -> None:
    if not CASES.is_dir():
        pytest.skip(f"reference scheduler cases not found at {CASES}")
    tally = Tally()
    for path in sorted(CASES.glob("*.xml")):
        tally_case(path, tally)
    rate = tally.matched / tally.compared
    print(
        f"\nop-digest: {tally.matched}/{tally.compared} = {rate:.1%}; "
        f"restart: {tally.restart_matched}/{tally.restart_compared}; "
        f"secure: {tally.secure_matched}/{tally.secure_compared}; "
        f"skipped (feature set < 3.0): {tally.old_skipped}"
    )
    assert tally.compared > 1000
    assert rate > 0.9, tally.mismatches[:20]
    assert tally.restart_compared > 100
    assert tally.restart_matched == tally.restart_compared
    assert tally.secure_matched == tally.secure_compared
