"""Durability that tells the truth, on real daemons. As root the disk is really full: node3's
state directory is a small tmpfs, filled while the cluster runs; otherwise the daemon's test
fault ``debug_disk_full`` makes its CIB writes fail with ENOSPC."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from defib.cluster.testing import LocalCluster
from defib.lab.faults import fill_disk, free_disk

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@contextmanager
def full_disk_fault(cluster: LocalCluster, node: str) -> Iterator[tuple[Callable[[], object],
                                                                      Callable[[], object]]]:
    """(fill, free) for ``node``'s state: a real small tmpfs as root, the test fault else."""
    path = cluster.dir / node
    if os.geteuid() != 0:
        client = cluster.client(node)
        yield (lambda: client.request("debug_disk_full", full=True),
               lambda: client.request("debug_disk_full", full=False))
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(path)],
                   check=True, capture_output=True)
    try:
        yield (lambda: fill_disk(path), lambda: free_disk(path))
    finally:
        # The node's PID file lives on the tmpfs: stop it while the file is still there
        # (after the umount the cluster's own teardown would no longer find the daemon).
        try:
            cluster.stop([node])
        finally:
            # Lazy: a host's mount namespace may still hold it while its daemon exits.
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _cli(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "defib.cli.main", *args, "--dir",
                           str(cluster.dir)], capture_output=True, text=True, timeout=60)


def _node(status: dict[str, object], name: str) -> dict[str, object]:
    nodes = status["nodes"]
    assert isinstance(nodes, list)
    return next(n for n in nodes if n["name"] == name)


def test_a_node_with_a_full_disk_does_not_ack_leaves_says_why_and_catches_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")  # for the test fault when not root
    with LocalCluster(tmp_path / "disk", 3, links=1, controller=False) as cluster, \
            full_disk_fault(cluster, "node3") as (fill, free):
        state3 = cluster.dir / "node3"
        cluster.start()
        cluster.wait_formed(timeout=20)
        fill()

        t0 = time.monotonic()
        done = _cli(cluster, "configure", "primitive", "d1", "ocf:heartbeat:Dummy")
        answered = time.monotonic() - t0
        assert done.returncode != 0, done.stdout
        assert "node3 did not acknowledge" in done.stderr + done.stdout
        assert "Traceback" not in done.stderr

        cluster.wait_for("node3 out of the membership", lambda: [
            n["name"] for n in cluster.status("node1")["nodes"] if n["member"]]
            == ["node1", "node2"], timeout=20)
        seen_by_1 = _node(cluster.status("node1"), "node3")["health"]
        assert isinstance(seen_by_1, str) and "No space left on device" in seen_by_1
        own = cluster.status("node3")
        assert "No space left on device" in str(_node(own, "node3")["health"])
        assert own["cib"]["synced"] is False
        text = _cli(cluster, "status", "--brief", "--node", "node1")
        assert text.returncode == 0
        assert "UNHEALTHY: node3 (cannot write the CIB in" in text.stdout
        assert "OFFLINE: [ node3 ]" in text.stdout
        # The other members go on: a change now is acknowledged by every member.
        done = _cli(cluster, "configure", "primitive", "d2", "ocf:heartbeat:Dummy")
        assert done.returncode == 0, done.stderr

        free()
        t0 = time.monotonic()
        cluster.wait_formed(timeout=30)
        rejoined = time.monotonic() - t0
        version = cluster.status("node1")["cib"]["version"]
        cluster.wait_for("node3 caught up", lambda: (
            cluster.status("node3")["cib"]["version"] == version
            and cluster.status("node3")["cib"]["synced"]), timeout=20)
        saved = (state3 / "cib.xml").read_text()
        assert 'id="d1"' in saved and 'id="d2"' in saved
        assert _node(cluster.status("node1"), "node3")["health"] is None
        done = _cli(cluster, "configure", "primitive", "d3", "ocf:heartbeat:Dummy")
        assert done.returncode == 0, done.stderr
        print(f"\nfull disk: the CLI failed naming node3 after {answered:.1f}s;"
              f" node3 back in the membership {rejoined:.1f}s after space was freed")
