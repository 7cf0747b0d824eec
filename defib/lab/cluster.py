"""The lab's cluster: hosts with a fence device and recording resources, driven as a user.

``LabCluster`` starts N local nodes as hosts (``defib.cluster.hosts``), loads a
configuration of ``ocf:defib:Recorder`` resources (plain, in a group, cloned) that log
every start and stop to one shared activation log, and offers what the scenarios do to it:
the CLI's own commands (standby, maintenance, fence, property), clean stops and starts,
and the faults of ``defib.lab.faults``. It remembers every configuration change it
committed, so that an audit can prove none was lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import TracebackType

from defib.cluster import local
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.errors import CibConflictError, ClusterError, NotConnectedError
from defib.lab.faults import Faults, power_log

DEFIB = [sys.executable, "-m", "defib.cli.main"]
MARKS = "lab-marks"  # the cluster_property_set that holds the marks the lab committed


def lab_resources(log: Path, count: int) -> str:
    """A fence device, ``count`` plain Recorders, a group of two and an anonymous clone."""
    def rec(rsc_id: str) -> str:
        return primitive(rsc_id, "ocf", "Recorder", "defib", {"log": str(log)}, monitor="2s")

    plain = "".join(rec(f"r{i}") for i in range(1, count + 1))
    group = f'<group id="grp">{rec("g1")}{rec("g2")}</group>'
    clone = (f'<clone id="cl">{rec("c")}<meta_attributes id="cl-meta">'
             '<nvpair id="cl-interleave" name="interleave" value="true"/>'
             "</meta_attributes></clone>")
    return fence_device() + plain + group + clone


class LabCluster:
    def __init__(self, directory: Path, nodes: int = 3, resources: int = 4) -> None:
        self.dir = directory.resolve()
        self.log = self.dir.parent / f"{self.dir.name}-activations.log"
        self.rc = ResourceCluster(self.dir, nodes, hosts=True)
        self.names = list(self.rc.names)
        self.resources = resources
        self.marks: list[str] = []
        self.faults: Faults | None = None

    def __enter__(self) -> LabCluster:
        self.rc.__enter__()
        try:
            self.faults = Faults(self.dir, self.names)
            self.rc.load(cib_xml(lab_resources(self.log, self.resources),
                                 properties={"no-quorum-policy": "stop"}))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.faults is not None:
                self.faults.heal()
        finally:
            self.rc.__exit__(exc_type, exc, tb)

    # -- observation ----------------------------------------------------------------------------
    @property
    def fault(self) -> Faults:
        assert self.faults is not None, "the lab cluster is not started"
        return self.faults

    def up(self) -> list[str]:
        """Nodes whose daemon runs (as far as the lab knows)."""
        return [n for n in self.names if n not in self.rc.down]

    def deaths(self) -> dict[str, list[float]]:
        return {n: power_log(self.dir, n) for n in self.names}

    def cloned(self) -> set[str]:
        """Ids of the primitives inside clones (their instances may run on many nodes)."""
        root = ET.fromstring(self.rc.cib())
        return {p.get("id", "") for clone in root.iterfind(".//resources/clone")
                for p in clone.iter("primitive")}

    def members_of(self, node: str) -> list[str]:
        status = self.rc.cluster.status(node)
        return sorted(str(m["name"]) for m in status["nodes"] if m["member"])

    def wait_members(self, expected: list[str], timeout: float = 40.0) -> float:
        want = sorted(expected)
        return self.rc.wait(f"membership {want}", lambda: all(
            self.members_of(n) == want for n in want), timeout=timeout)

    # -- a user's commands ------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*DEFIB, *args, "--dir", str(self.dir)], capture_output=True,
                              text=True, timeout=timeout,
                              env={**os.environ, "DEFIB_CLUSTER_DIR": str(self.dir)})
        if done.returncode != 0:
            raise ClusterError(f"defib {' '.join(args)}: rc {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-400:]}")
        return done

    def mark(self, label: str) -> None:
        """Commit one configuration change (a property in our own set), conditionally on the
        configuration it was read from; remembered for the audit."""
        name = f"lab-mark-{len(self.marks) + 1}"
        for _ in range(20):
            root = ET.fromstring(self.rc.cib())
            base = [int(root.get("admin_epoch", "0")), int(root.get("epoch", "0"))]
            crm_config = root.find("./configuration/crm_config")
            assert crm_config is not None
            marks = crm_config.find(f"cluster_property_set[@id='{MARKS}']")
            if marks is None:
                marks = ET.SubElement(crm_config, "cluster_property_set", id=MARKS)
            ET.SubElement(marks, "nvpair", id=f"{MARKS}-{name}", name=name, value=label)
            change: dict[str, object] = {
                "op": "replace_section", "section": "crm_config", "base": base,
                "xml": ET.tostring(crm_config, encoding="unicode")}
            if self._commit(change):
                self.marks.append(name)
                return
            time.sleep(0.1)  # someone changed the configuration since we read it: again
        raise ClusterError(f"could not commit {name}: the configuration kept changing")

    def _commit(self, change: dict[str, object]) -> bool:
        """Send a change to the first node that answers; False if it was refused as stale."""
        last: Exception | None = None
        for node in self.up():
            try:
                self.rc.cluster.client(node).request("cib_change", change=change)
                return True
            except CibConflictError:
                return False
            except (NotConnectedError, ClusterError) as exc:
                last = exc
        raise ClusterError(f"no node took the change: {last}")

    # -- node lifecycle ---------------------------------------------------------------------------
    def stop_node(self, node: str) -> None:
        """A clean stop (its resources move away first), as ``defib cluster stop``."""
        local.stop(self.dir, [node], timeout=60.0)
        self.rc.forget_pid(node)
        self.rc.down.add(node)

    def start_node(self, node: str) -> None:
        self.rc.restart(node)

    def power_off(self, node: str) -> None:
        self.rc.crash(node)

    def crash_daemon(self, node: str) -> None:
        """The daemon alone dies; its host and resources stay up until fenced."""
        self.rc.cluster.kill(node)
        self.rc.down.add(node)

    def host_off(self, node: str) -> bool:
        from defib.fencing.local_agent import node_is_on
        return not node_is_on(str(self.dir), node)

    def wait_fenced(self, node: str, timeout: float = 40.0) -> float:
        """Wait until the cluster has powered ``node`` off; it is then down for the lab."""
        took = self.rc.wait(f"{node} fenced", lambda: self.host_off(node), timeout=timeout)
        self.rc.forget_pid(node)
        self.rc.down.add(node)
        return took

    def restore_baseline(self) -> None:
        """Undo what an interrupted scenario may have left set: maintenance mode, nodes in
        standby, failed operations."""
        self.cli("property", "maintenance-mode", "false", "--wait")
        for node in self.names:
            self.cli("node", "online", node)
        self.cli("resource", "cleanup", "--wait")

    def bring_back(self, timeout: float = 60.0) -> None:
        """Start every node that is down and wait until all are members again."""
        for node in sorted(self.rc.down):
            if self.host_off(node):
                self.start_node(node)
            else:  # a host whose daemon died: the supply starts a new daemon
                from defib.cluster import hosts
                hosts.start_daemon(self.dir, node)
                self.rc.down.discard(node)
        self.wait_members(self.names, timeout=timeout)
