"""Conditional CIB writes on real daemons: concurrent writers never overwrite each other."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.testing import LocalCluster
from defib.errors import CibConflictError

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# One writer: 100 read-modify-write changes of the resources section, alternating the two
# write paths of the command side: the command library's ``edit`` (resource, node and
# property commands) and ``defib configure``'s (a configure statement on the live CIB).
WRITER = """
import sys, time
from pathlib import Path
from defib.commands.env import LiveEnv, edit
from defib.configure.commands import apply_script
from defib.errors import CibConflictError
import xml.etree.ElementTree as ET

directory, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
env = LiveEnv(directory, timeout=20.0)
refused = 0

def counted(write):
    def wrapper(*args, **kwargs):
        global refused
        try:
            return write(*args, **kwargs)
        except CibConflictError:
            refused += 1
            raise
    return wrapper

LiveEnv.write_section = counted(LiveEnv.write_section)
while not (directory / "go").exists():  # both writers start together
    time.sleep(0.01)

def add(rsc):
    def change(root):
        ET.SubElement(root.find("configuration/resources"), "primitive",
                      {"id": rsc, "class": "ocf", "provider": "heartbeat", "type": "Dummy"})
    return change

for i in range(count):
    rsc = f"{name}-{i}"
    if i % 2:
        edit(env, add(rsc))
    else:
        # Retried by the library itself from a fresh read while refused.
        result = apply_script(env, f"primitive {rsc} ocf:heartbeat:Dummy", None)
        assert result.ok, result.problems
print("done", count, refused)
"""


def test_two_writers_making_100_changes_each_lose_none(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "w", 3, links=1, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=15)
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(cluster.dir), name,
                                     "100"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
                   for name in ("alice", "bob")]
        (cluster.dir / "go").touch()
        outcomes = [w.communicate(timeout=600) for w in writers]
        refused = 0
        for writer, (out, err) in zip(writers, outcomes, strict=True):
            assert writer.returncode == 0, err[-3000:]
            done, count, conflicts = out.split()
            assert (done, count) == ("done", "100")
            refused += int(conflicts)
        # They did collide: writes based on a stale read were refused, and re-applied.
        assert refused > 0
        for name in cluster.names:
            root = ET.fromstring(cluster.client(name).get_cib()["xml"])
            ids = {p.get("id") for p in root.iterfind("configuration/resources/primitive")}
            assert ids == {f"{w}-{i}" for w in ("alice", "bob") for i in range(100)}, name
        # Both went through the same DC, one change each: 200 configuration versions.
        assert root.get("epoch") == "200"


def test_stale_write_through_the_client_is_refused_and_names_both_versions(
        tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "s", 2, links=1, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=15)
        client = cluster.client("node2")
        read = ET.fromstring(client.get_cib()["xml"])
        base = (int(read.get("admin_epoch", "0")), int(read.get("epoch", "0")))
        client.replace_section("resources", "<resources/>", base=base)
        with pytest.raises(CibConflictError, match=r"read at 0\.0, now 0\.1"):
            cluster.client("node1").replace_section(
                "resources", '<resources><primitive id="x" class="ocf" provider="heartbeat"'
                ' type="Dummy"/></resources>', base=base)
        assert 'id="x"' not in client.get_cib()["xml"]
