"""Live migration on a real cluster: ocf:heartbeat:Dummy with allow-migrate moves by
migrate_to + migrate_from, never by a stop and a fresh start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

DUMMY = Path("/usr/lib/ocf/resource.d/heartbeat/Dummy")


@pytest.mark.skipif(not DUMMY.exists() or shutil.which("bash") is None,
                    reason="needs the resource-agents package (ocf:heartbeat:Dummy)")
def test_allow_migrate_moves_live(tmp_path: Path) -> None:
    vm = primitive("vm", "ocf", "Dummy", "heartbeat", meta={"allow-migrate": "true"},
                   monitor="2s")
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + vm))
        home, _ = rc.wait_running("vm")
        away = next(n for n in rc.names if n != home)
        rc.replace_section("constraints", (
            f'<constraints><rsc_location id="vm-away" rsc="vm" node="{away}" '
            'score="INFINITY"/></constraints>'))
        there, took = rc.wait_running("vm", not_on={home}, timeout=15)
        assert there == away
        assert rc.dc_status()["fenced"] == {}
        # The stop on the old node completes the migration, after migrate_from.
        rc.wait("the stop on the old node",
                lambda: any(f"vm_stop_0 on {home}: rc=0" in rc.log(n) for n in rc.names),
                timeout=10)
        logs = "\n".join(rc.log(n) for n in rc.names)
    # The agents ran migrate_to on the old node and migrate_from on the new one; the
    # "start" there was only the migration's completion.
    assert f"vm_migrate_to_0 on {home}: rc=0" in logs, logs[-3000:]
    assert f"vm_migrate_from_0 on {away}: rc=0" in logs, logs[-3000:]
    assert f"vm_start_0 on {away}:" not in logs
    assert f"vm_stop_0 on {home}: rc=0" in logs
    assert took < 10
