"""A local cluster of real daemons with resources: for the failover tests, bench and demo.

``ResourceCluster`` wraps ``defib.cluster.testing.LocalCluster``: it loads a CIB, watches
where resources run, crashes nodes as a power cut does (SIGKILL of every process of the
node, through ``fence_defib_local``'s own routine) and, on exit, stops the daemons and
kills whatever any node left running (agents' daemons included).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any

from defib.cluster.config import Timing
from defib.cluster.corosync.conf import TotemOptions
from defib.cluster.testing import LocalCluster
from defib.configure.cibdoc import FEATURE_SET
from defib.controller.observe import node_attributes, resource_locations
from defib.errors import ClusterError, NotConnectedError
from defib.executor.activations import double_activations, read_activations
from defib.fencing.local_agent import node_is_on, power_off_node


def primitive(rsc_id: str, standard: str, agent: str, provider: str | None = None,
              params: dict[str, str] | None = None, meta: dict[str, str] | None = None,
              monitor: str | None = "1s", timeout: str = "20s") -> str:
    prov = f' provider="{provider}"' if provider else ""
    inner = ""
    if params:
        pairs = "".join(f'<nvpair id="{rsc_id}-p-{k}" name="{k}" value="{v}"/>'
                        for k, v in params.items())
        inner += f'<instance_attributes id="{rsc_id}-params">{pairs}</instance_attributes>'
    if meta:
        pairs = "".join(f'<nvpair id="{rsc_id}-m-{k}" name="{k}" value="{v}"/>'
                        for k, v in meta.items())
        inner += f'<meta_attributes id="{rsc_id}-meta">{pairs}</meta_attributes>'
    ops = f'<op id="{rsc_id}-start" name="start" interval="0" timeout="{timeout}"/>' \
          f'<op id="{rsc_id}-stop" name="stop" interval="0" timeout="{timeout}"/>'
    if monitor:
        ops += (f'<op id="{rsc_id}-monitor" name="monitor" interval="{monitor}"'
                f' timeout="{timeout}"/>')
    inner += f"<operations>{ops}</operations>"
    return (f'<primitive id="{rsc_id}" class="{standard}"{prov} type="{agent}">'
            f"{inner}</primitive>")


def fence_device(rsc_id: str = "fence-local", agent: str = "fence_defib_local",
                 params: dict[str, str] | None = None) -> str:
    return primitive(rsc_id, "stonith", agent, params=params, monitor="60s")


def cib_xml(resources: str, constraints: str = "", properties: dict[str, str] | None = None,
            nodes: str = "") -> str:
    props = {"stonith-enabled": "true", **(properties or {})}
    pairs = "".join(f'<nvpair id="opt-{k}" name="{k}" value="{v}"/>' for k, v in props.items())
    return (
        '<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9"'
        f' crm_feature_set="{FEATURE_SET}"><configuration><crm_config>'
        f'<cluster_property_set id="cib-bootstrap-options">{pairs}</cluster_property_set>'
        f"</crm_config><nodes>{nodes}</nodes><resources>{resources}</resources>"
        f"<constraints>{constraints}</constraints></configuration><status/></cib>"
    )


class ResourceCluster:
    def __init__(self, directory: Path, count: int = 3, *, timing: Timing | None = None,
                 netns: bool = False, hosts: bool | None = None,
                 stack: str = "heartbeat", totem: TotemOptions | None = None) -> None:
        self.cluster = LocalCluster(directory, count, timing=timing, netns=netns, hosts=hosts,
                                    stack=stack, totem=totem)
        self.dir = self.cluster.dir
        self.names = self.cluster.names
        self.down: set[str] = set()

    def __enter__(self) -> ResourceCluster:
        self.cluster.__enter__()
        try:
            self.cluster.start()
            self.cluster.wait_formed()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            # Power everything off at once: a clean stop one node at a time would only make
            # the survivors fence and recover what is being torn down.
            for name in self.names:
                power_off_node(str(self.dir), name, 5.0)
                self.forget_pid(name)
        finally:
            self.cluster.__exit__(exc_type, exc, tb)

    def forget_pid(self, name: str) -> None:
        # The daemon is dead: its recorded PID must not be signalled later (PIDs wrap
        # quickly on a busy machine, and the number may be another cluster's daemon by then).
        (self.dir / name / "daemon.pid").unlink(missing_ok=True)

    # -- helpers ----------------------------------------------------------------------------
    def marker(self, name: str) -> str:
        return f"{self.dir}:{name}"

    def alive(self) -> list[str]:
        return [n for n in self.names if n not in self.down]

    def client_request(self, op: str, **fields: Any) -> dict[str, Any]:
        last: Exception | None = None
        for name in self.alive():
            try:
                return self.cluster.client(name).request(op, **fields)
            except (NotConnectedError, ClusterError) as exc:
                last = exc
        raise ClusterError(f"no live node answered {op}: {last}")

    def load(self, xml: str) -> None:
        self.client_request("cib_change", change={"op": "replace", "xml": xml})

    def replace_section(self, section: str, xml: str) -> None:
        self.client_request("cib_change", change={"op": "replace_section", "section": section,
                                                  "xml": xml})

    def cib(self) -> str:
        return str(self.client_request("get_cib")["xml"])

    def locations(self) -> dict[str, list[str]]:
        return resource_locations(self.cib())

    def attributes(self) -> dict[str, dict[str, str]]:
        return node_attributes(self.cib())

    def crm_status(self, name: str | None = None) -> dict[str, Any]:
        if name is not None:
            return self.cluster.client(name).request("crm_status")
        return self.client_request("crm_status")

    def dc_status(self) -> dict[str, Any]:
        first = self.crm_status()
        dc = first.get("dc")
        return self.crm_status(dc) if dc and dc != first.get("node") else first

    def cleanup(self, rsc: str | None = None, node: str | None = None) -> None:
        self.client_request("crm_cleanup", rsc=rsc, node=node)

    def wait_running(self, rsc: str, *, not_on: set[str] | None = None,
                     timeout: float = 20.0, poll: float = 0.01) -> tuple[str, float]:
        """Wait until ``rsc`` runs on exactly one node (not in ``not_on``)."""
        start = time.monotonic()
        last: dict[str, list[str]] = {}
        while time.monotonic() - start < timeout:
            try:
                last = self.locations()
            except (ClusterError, NotConnectedError):
                time.sleep(poll)
                continue
            where = last.get(rsc, [])
            if len(where) == 1 and where[0] not in (not_on or set()):
                return where[0], time.monotonic() - start
            time.sleep(poll)
        raise ClusterError(f"{rsc} not running (outside {sorted(not_on or [])}) within"
                           f" {timeout}s; locations {last}")

    def wait(self, what: str, check: Any, timeout: float = 20.0, poll: float = 0.05) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if check():
                    return time.monotonic() - start
            except (ClusterError, NotConnectedError):
                pass
            time.sleep(poll)
        raise ClusterError(f"timed out after {timeout}s waiting for {what}")

    def crash(self, name: str) -> float:
        """Power cut: SIGKILL every process of the node; returns the monotonic time."""
        if not node_is_on(str(self.dir), name):
            raise ClusterError(f"{name} has no processes to crash", name)
        t0 = time.monotonic()
        done, _ = power_off_node(str(self.dir), name, 5.0)
        if not done:
            raise ClusterError(f"could not crash {name}", name)
        self.forget_pid(name)
        self.down.add(name)
        return t0

    def restart(self, name: str) -> None:
        try:
            self.cluster.start([name])
        except ClusterError as exc:
            if exc.code != "exited-at-start":
                raise
            # local.start checks /proc/PID/cmdline right after spawning, and can read the
            # launcher's own command line there before the exec shows: it then reports a
            # starting daemon as exited. Asked again, it finds the daemon running.
            time.sleep(0.2)
            self.cluster.start([name])
        self.down.discard(name)

    def log(self, name: str) -> str:
        return self.cluster.log(name)


def overlaps(log_text: str, fenced: dict[str, list[float]]) -> list[str]:
    """Every pair of activations of one resource on two nodes at once (should be none);
    ``fenced`` gives the times each node died."""
    acts = read_activations(log_text.splitlines(), fenced)
    return [f"{a.resource} on {a.node} [{a.start:.3f}, {a.stop:.3f}] and on {b.node}"
            f" [{b.start:.3f}, {b.stop:.3f}]" for a, b in double_activations(acts)]
