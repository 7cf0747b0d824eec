"""A member that cannot write its CIB copy: no ack, unhealthy, out of the membership, back
once it can write (replication logic on the in-memory layer, a store that fails as a full
disk does; the real full disk is tests/cluster/test_full_disk.py)."""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path

import pytest

from defib.cluster import health
from defib.cluster.cibstore import CibStore
from defib.cluster.cibxml import CibCopy
from defib.cluster.layer import InMemoryHub
from defib.cluster.replication import CibReplicator
from defib.errors import ClusterError
from tests.waiting import until

RES = '<resources><primitive id="{}" class="ocf" provider="heartbeat" type="Dummy"/></resources>'


class FullableStore(CibStore):
    """A real store whose writes fail with ENOSPC while ``full``."""

    full = False

    def save(self, copy: CibCopy) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().save(copy)


def make(tmp_path: Path) -> tuple[InMemoryHub, dict[int, CibReplicator],
                                  dict[int, FullableStore]]:
    hub = InMemoryHub({1: 1, 2: 1, 3: 1})
    reps, stores = {}, {}
    for i in (1, 2, 3):
        log = logging.LoggerAdapter(logging.getLogger("test"), {"node": f"n{i}"})
        stores[i] = FullableStore(tmp_path / f"n{i}", log)
        reps[i] = CibReplicator(hub.layer(i), stores[i], log, timeout=2.0, ack_timeout=0.5)
    return hub, reps, stores



@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "WITHDRAW_GRACE_S", 0.05)
    monkeypatch.setattr(health, "PROBE_EVERY_S", 0.05)


def test_a_member_that_cannot_write_does_not_ack_leaves_and_catches_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps, stores = make(tmp_path)
        for layer in hub.layers.values():
            await layer.join()
        await until(lambda: all(r.synced and r.membership.members == (1, 2, 3)
                                for r in reps.values()), "one synced view of 3")
        before = reps[3].copy
        stores[3].full = True
        result = await reps[1].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("a")})
        assert result["not_acked"] == [3] and result["acked_by"] == [1, 2]
        # Not adopted: what node3 holds is what it could write.
        assert reps[3].copy == before
        assert CibStore(tmp_path / "n3", reps[3].log).load().copy in (None, before)
        assert "No space left on device" in str(reps[3].health.error)
        await until(lambda: reps[1].membership.members == (1, 2),
                    "node3 out of the others' membership")
        assert "No space left on device" in reps[1].health.peers[3]
        assert reps[3].membership.members == (3,)
        with pytest.raises(ClusterError, match="accepts no change: cannot write the CIB"):
            await reps[3].change({"op": "replace_section", "section": "resources",
                                  "xml": RES.format("b")})
        # A second change while node3 is out: acked by all members there are.
        result = await reps[2].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("c")})
        assert result["not_acked"] == [] and result["members"] == [1, 2]

        stores[3].full = False
        await until(lambda: (
            reps[1].membership.members == (1, 2, 3) and reps[3].synced
            and reps[3].copy.digest == reps[1].copy.digest), "node3 back and caught up")
        assert reps[3].health.error is None and reps[1].health.peers == {}
        assert CibStore(tmp_path / "n3", reps[3].log).load().copy == reps[1].copy
        result = await reps[3].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("d")})
        assert result["not_acked"] == [] and result["acked_by"] == [1, 2, 3]

    asyncio.run(scenario())


def test_a_dc_that_cannot_write_commits_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps, stores = make(tmp_path)
        for layer in hub.layers.values():
            await layer.join()
        await until(lambda: all(r.synced for r in reps.values()), "one synced view of 3")
        before = reps[2].copy
        stores[1].full = True
        with pytest.raises(ClusterError, match=r"DC \(node 1\) cannot write the CIB"):
            await reps[2].change({"op": "replace_section", "section": "resources",
                                  "xml": RES.format("a")})
        assert {r.copy for r in reps.values()} == {before}
        # The DC leaves; the next one takes the change.
        await until(lambda: reps[2].dc == 2 and reps[2].synced, "node2 is DC")
        result = await reps[3].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("a")})
        assert result["not_acked"] == [] and result["members"] == [2, 3]

    asyncio.run(scenario())
