"""CIB replication logic against the in-memory layer (the fake of the ClusterLayer protocol)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from defib.cluster.cibstore import CibStore
from defib.cluster.layer import InMemoryHub
from defib.cluster.replication import CibReplicator
from defib.errors import CibConflictError, ClusterError

RES = '<resources><primitive id="{}" class="ocf" provider="heartbeat" type="Dummy"/></resources>'


def make(tmp_path: Path, n: int) -> tuple[InMemoryHub, dict[int, CibReplicator]]:
    hub = InMemoryHub({i: 1 for i in range(1, n + 1)})
    reps = {}
    for i in range(1, n + 1):
        log = logging.LoggerAdapter(logging.getLogger("test"), {"node": f"n{i}"})
        reps[i] = CibReplicator(hub.layer(i), CibStore(tmp_path / f"n{i}", log), log,
                                timeout=1.0, ack_timeout=0.2)
    return hub, reps


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def join_all(hub: InMemoryHub) -> None:
    for layer in hub.layers.values():
        await layer.join()
    await settle()


def test_change_through_any_node_reaches_all(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        assert all(r.synced and r.dc == 1 for r in reps.values())
        result = await reps[3].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("a")})
        assert result == {"version": [0, 1, 0], "acked_by": [1, 2, 3], "members": [1, 2, 3],
                          "not_acked": []}
        assert {r.copy.digest for r in reps.values()} == {reps[1].copy.digest}
        assert all(CibStore(tmp_path / f"n{i}", reps[i].log).load().copy == reps[i].copy
                   for i in reps)

    asyncio.run(scenario())


def test_refused_change_raises(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 2)
        await join_all(hub)
        with pytest.raises(ClusterError, match="DC refused"):
            await reps[2].change({"op": "replace_section", "section": "nope", "xml": "<nope/>"})

    asyncio.run(scenario())


def test_partitions_converge_on_the_newest_version_after_healing(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 5)
        await join_all(hub)
        hub.set_partitions([{1, 2, 3}, {4, 5}])
        await settle()
        assert reps[5].dc == 4 and reps[2].dc == 1
        await reps[2].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("major")})
        await reps[5].change({"op": "patch_status", "xml": '<node_state id="5" x="1"/>'})
        await reps[4].change({"op": "patch_status", "xml": '<node_state id="4" x="1"/>'})
        assert reps[4].copy.version == (0, 0, 2) and reps[1].copy.version == (0, 1, 0)
        hub.set_partitions([{1, 2, 3, 4, 5}])
        await settle()
        assert {r.copy.version for r in reps.values()} == {(0, 1, 0)}
        assert all('id="major"' in r.copy.xml for r in reps.values())

    asyncio.run(scenario())


def test_newer_copy_on_a_non_dc_wins_the_sync(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        hub.set_partitions([{1, 2}, {3}])
        await settle()
        await reps[3].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("solo")})
        hub.set_partitions([{1, 2, 3}])
        await settle()
        assert all('id="solo"' in r.copy.xml for r in reps.values())
        assert reps[1].dc == 1 and reps[1].synced

    asyncio.run(scenario())


def test_no_dc_answer_times_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 2)
        await hub.layers[2].join()
        hub.layers[1].joined = False
        await settle()
        reps[2].membership = reps[2].membership.__class__("9.9", (1, 2))
        with pytest.raises(ClusterError, match="no DC committed"):
            await reps[2].change({"op": "patch_status", "xml": '<node_state id="2"/>'})

    asyncio.run(scenario())


def test_a_request_delivered_twice_is_applied_once_even_by_the_next_dc(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        change = {"op": "replace_section", "section": "resources", "xml": RES.format("a")}
        await reps[3].change(change)
        req = f"3:{os.getpid()}:1"
        hub.layers[3].send_ordered({"t": "cib-req", "r": req, "c": change})
        await settle()
        assert {r.copy.version for r in reps.values()} == {(0, 1, 0)}
        hub.set_partitions([{1}, {2, 3}])
        await settle()
        assert reps[3].dc == 2
        hub.layers[3].send_ordered({"t": "cib-req", "r": req, "c": change})
        await settle()
        assert reps[2].copy.version == reps[3].copy.version == (0, 1, 0)

    asyncio.run(scenario())


def test_a_change_racing_the_sync_is_applied_on_top_of_the_synced_copy(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        hub.set_partitions([{1, 2}, {3}])
        await settle()
        props = ('<crm_config><cluster_property_set id="p"><nvpair id="p1" name="x"'
                 ' value="1"/></cluster_property_set></crm_config>')
        await reps[3].change({"op": "replace_section", "section": "crm_config", "xml": props})
        hub.set_partitions([{1, 2, 3}])
        # Sent while the healed view is still syncing: node 3 holds the newer copy.
        result = await reps[2].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("late")})
        await settle()
        assert result["version"] == [0, 2, 0]
        for rep in reps.values():
            assert rep.copy.version == (0, 2, 0)
            assert 'id="late"' in rep.copy.xml and 'id="p1"' in rep.copy.xml

    asyncio.run(scenario())


def test_commits_are_versioned_diffs_and_a_member_off_the_base_is_resynced(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        seen: list[dict[str, object]] = []
        reps[2].layer.on_deliver(lambda d: seen.append(d.payload))
        await reps[1].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("a")})
        stale = reps[3].copy
        update = {"op": "update_status", "updates": [
            {"id": "1", "uname": "n1", "lrm_resource": '<lrm_resource id="a"/>'}]}
        await reps[2].change(update)
        commits = [p for p in seen if p["t"] == "cib-commit"]
        requests = [p for p in seen if p["t"] == "cib-req"]
        # The change itself travels once, in the request every member delivers; the commit
        # names it with the version it applies to and the one it makes; never the whole CIB.
        assert commits[-1]["b"] == [0, 1, 0] and commits[-1]["v"] == [0, 1, 1]
        assert requests[-1]["c"] == update and requests[-1]["r"] == commits[-1]["r"]
        assert "x" not in commits[-1] and "c" not in commits[-1]
        assert {r.copy.digest for r in reps.values()} == {reps[1].copy.digest}
        # Node 3 "missed" the last commit: the next diff does not apply to its copy, so it
        # asks for (and adopts) a full copy instead of guessing.
        reps[3].copy = stale
        await reps[1].change({"op": "patch_status", "xml": '<node_state id="2" x="1"/>'})
        await settle()
        assert any(p["t"] == "cib-resync" for p in seen)
        assert any(p["t"] == "cib-full" for p in seen)
        assert reps[3].copy.version == (0, 1, 2)
        assert {r.copy.xml for r in reps.values()} == {reps[1].copy.xml}

    asyncio.run(scenario())


def test_a_member_that_never_saw_the_request_of_a_commit_asks_for_a_full_copy(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        seen: list[dict[str, object]] = []
        reps[1].layer.on_deliver(lambda d: seen.append(d.payload))
        # Node 3 forgets every request as soon as it is delivered (as if it had missed it).
        reps[3].layer.on_deliver(lambda d: reps[3]._requests.clear())
        result = await reps[2].change({"op": "replace_section", "section": "resources",
                                       "xml": RES.format("a")})
        await settle()
        assert 3 not in result["acked_by"], "no ack for a commit it could not replay"
        assert [p["t"] for p in seen].count("cib-resync") == 1
        assert reps[3].copy.version == reps[1].copy.version == (0, 1, 0)
        assert {r.copy.xml for r in reps.values()} == {reps[1].copy.xml}
        assert not reps[2]._requests, "a committed request is not kept"

    asyncio.run(scenario())


def test_one_ack_answers_a_burst_of_commits(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 3)
        await join_all(hub)
        seen: list[tuple[int, dict[str, object]]] = []
        reps[1].layer.on_deliver(lambda d: seen.append((d.origin, d.payload)))
        results = await asyncio.gather(*(
            reps[2].change({"op": "patch_status", "xml": f'<node_state id="{i}"/>'})
            for i in range(1, 6)))
        assert all(r["acked_by"] == [1, 2, 3] for r in results)
        commits = [p for _, p in seen if p["t"] == "cib-commit"]
        acks_of_3 = [p for origin, p in seen if p["t"] == "cib-ack" and origin == 3]
        assert len(commits) == 5 and 1 <= len(acks_of_3) < 5
        assert acks_of_3[-1]["v"] == commits[-1]["v"]

    asyncio.run(scenario())


def test_change_based_on_an_older_configuration_is_refused_as_a_conflict(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 2)
        await join_all(hub)
        read = reps[2].copy.version[:2]
        await reps[1].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("first"), "base": list(read)})
        with pytest.raises(CibConflictError, match="changed since it was read"):
            await reps[2].change({"op": "replace_section", "section": "resources",
                                  "xml": RES.format("second"), "base": list(read)})
        assert 'id="first"' in reps[2].copy.xml and 'id="second"' not in reps[2].copy.xml
        # Status changes do not move the configuration's epoch: no conflict from them.
        await reps[1].change({"op": "patch_status", "xml": '<node_state id="1"/>'})
        await reps[2].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("second"),
                              "base": list(reps[2].copy.version[:2])})
        assert 'id="second"' in reps[1].copy.xml

    asyncio.run(scenario())


def test_status_changes_are_saved_together_configuration_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub, reps = make(tmp_path, 2)
        await join_all(hub)
        await reps[1].change({"op": "replace_section", "section": "resources",
                              "xml": RES.format("a")})
        store = CibStore(tmp_path / "n2", reps[2].log)
        assert store.load().copy == reps[2].copy
        for i in range(5):
            await reps[1].change({"op": "patch_status", "xml": f'<node_state id="1" n="{i}"/>'})
        assert store.load().copy.version == (0, 1, 0)  # not yet: written within the delay
        reps[2].flush()
        assert store.load().copy == reps[2].copy

    asyncio.run(scenario())
