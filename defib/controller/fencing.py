"""The DC's fencing: devices and levels from the CIB, run by a ``LocalFencer``.

In a local cluster (``DEFIB_LOCAL_NODE`` set) a successful fence also empties the target's
run-time directory, as powering a machine off empties its ``/run``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from defib.executor.metadata import parse_duration_ms
from defib.fencing.fencer import FenceDevice, FenceResult, FencingLevel, LocalFencer
from defib.scheduler.unpack import WorkingSet

log = logging.getLogger("defib.controller")


def devices_of(ws: WorkingSet) -> list[FenceDevice]:
    return [FenceDevice(p.id, p.type or "", dict(p.params))
            for p in ws.all_primitives() if p.rsc_class == "stonith"]


def levels_of(ws: WorkingSet) -> list[FencingLevel]:
    out = []
    for lv in ws.cib.fencing_levels:
        if lv.target is None and lv.target_pattern is None:
            continue  # attribute-based targets: not supported, ignored with the level
        out.append(FencingLevel(lv.target or "", lv.index, lv.devices, lv.target_pattern))
    return out


def stonith_timeout_s(ws: WorkingSet) -> float:
    ms = parse_duration_ms(ws.config.properties.get("stonith-timeout"))
    return ms / 1000 if ms else 60.0


async def fence(ws: WorkingSet, target: str, action: str, me: str) -> FenceResult:
    fencer = LocalFencer(devices_of(ws), levels_of(ws), node_name=me,
                         default_timeout_s=stonith_timeout_s(ws))
    return await fencer.fence(target, action)


def local_power_off_cleanup(target_run_dir: Path) -> None:
    """After fencing a local node: its run-time state is gone, as after a power cut."""
    if os.environ.get("DEFIB_LOCAL_NODE") and target_run_dir.is_dir():
        shutil.rmtree(target_run_dir, ignore_errors=True)
        log.info("emptied %s (the fenced local node's run-time directory)", target_run_dir)
