"""Ordering and replication survive delay, jitter, reordering and drop (real daemons).

Every link of a 3-node cluster gets delay with jitter, packets held back so that later
ones overtake them, and a few drops (``defib.cluster.netfault`` through the lab's
``NetFaults``). Three writers then commit conditional changes at once, each through its
own node: the DC sequences them, a stale one is refused and retried. Every member must
end with every change, in one order (the same version and digest everywhere), and the
membership must not have lost anyone.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.testing import LocalCluster
from defib.errors import CibConflictError
from defib.lab.faults import NetFaults

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

WRITES = 8  # per writer


def add_mark(cluster: LocalCluster, node: str, name: str) -> None:
    """Read, add one property, commit on the version read; again when someone was first."""
    client = cluster.client(node)
    for _ in range(100):
        cib = client.get_cib()
        root = ET.fromstring(cib["xml"])
        crm = root.find("./configuration/crm_config")
        assert crm is not None
        marks = crm.find("cluster_property_set[@id='marks']")
        if marks is None:
            marks = ET.SubElement(crm, "cluster_property_set", id="marks")
        ET.SubElement(marks, "nvpair", id=f"marks-{name}", name=name, value="1")
        base = (int(root.get("admin_epoch", "0")), int(root.get("epoch", "0")))
        try:
            client.replace_section("crm_config", ET.tostring(crm, encoding="unicode"), base)
            return
        except CibConflictError:
            continue
    raise AssertionError(f"{name} never went in")


def test_concurrent_changes_replicate_in_one_order_under_delay_and_reordering(
        tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "nf", 3, controller=False, hosts=False) as cluster:
        net = NetFaults(cluster.dir, cluster.names)
        cluster.start()
        cluster.wait_formed(timeout=20)
        views_before = {n: cluster.client(n).stats()["views_installed"] for n in cluster.names}
        for node in cluster.names:
            net.delay(node, 10, 30)
            net.reorder(node, 0.25, 40)
            net.drop(node, 0.03)
        # The daemons read their rules within a reload period: wait until each one has
        # really held packets back.
        cluster.wait_for("every node faulted", lambda: all(
            cluster.client(n).stats()["netfault"].get("held_back", 0) > 0
            for n in cluster.names), timeout=10)
        errors: list[BaseException] = []

        def writer(node: str) -> None:
            try:
                for i in range(WRITES):
                    add_mark(cluster, node, f"{node}-{i}")
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in cluster.names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert not errors, errors
        want = {f"{n}-{i}" for n in cluster.names for i in range(WRITES)}

        def converged() -> bool:
            cibs = [cluster.client(n).get_cib() for n in cluster.names]
            have = [{nv.get("name") for nv in ET.fromstring(c["xml"]).iterfind(
                ".//cluster_property_set[@id='marks']/nvpair")} for c in cibs]
            return (all(h == want for h in have)
                    and len({(tuple(c["version"]), c["digest"]) for c in cibs}) == 1)

        cluster.wait_for("every change everywhere, one version", converged, timeout=30)
        stats = {n: cluster.client(n).stats() for n in cluster.names}
        for s in stats.values():
            assert s["netfault"]["delayed"] > 100 and s["netfault"]["held_back"] > 10, s
            assert s["netfault"]["dropped"] > 0, s
        net.heal()
        status = cluster.wait_formed(timeout=20)
        assert status is not None
        # Nobody was declared lost for a delayed heartbeat: no view was installed since.
        views_after = {n: cluster.client(n).stats()["views_installed"] for n in cluster.names}
        assert views_after == views_before
