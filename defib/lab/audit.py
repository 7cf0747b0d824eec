"""The audit after every lab round: what must hold whatever faults were injected.

* every member has the same configuration (same version, same ``<configuration>``);
* the cluster has settled where the scheduler says: every member joined on the DC (its
  history announced), nothing in flight on the DC, and the scheduler, run on the DC's
  CIB, has nothing left to do;
* no resource was ever active on two hosts at once (the Recorder activation log, each
  activation ending at its stop or at its host's death, from the hosts' power logs);
* no committed configuration change is lost (every mark the lab committed is on every
  member);
* no daemon crashed (no traceback or critical line in any daemon log since the last audit);
* after the run: no bridge, veth, namespace or process of the cluster is left.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from defib.cluster import hosts
from defib.controller.cibinput import parse_input, stamp_input
from defib.controller.transitions import utc_now
from defib.errors import ClusterError, DefibError, NotConnectedError
from defib.executor.activations import double_activations, read_activations
from defib.lab.cluster import MARKS, LabCluster
from defib.scheduler.pipeline import schedule
from defib.simulate.engine import execution_date

CRASH_SIGNS = ("Traceback (most recent call last)", " CRITICAL ")


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str


@dataclass
class Auditor:
    lab: LabCluster
    log_offsets: dict[str, int] = field(default_factory=dict)
    reported_pairs: set[tuple[str, str, float, str, float]] = field(default_factory=set)

    def audit(self, settle_timeout: float = 60.0) -> list[Violation]:
        found = []
        def settled() -> list[Violation]:
            return self.settled(settle_timeout)

        checks: tuple[Callable[[], list[Violation]], ...] = (
            settled, self.same_configuration, self.marks_kept, self.single_activation,
            self.daemons_alive)
        for check in checks:
            try:
                found += check()
            except (DefibError, OSError) as exc:  # a check that cannot look is a finding
                found.append(Violation("audit", f"{type(exc).__name__}: {exc}"[:500]))
        return found

    # -- the checks -------------------------------------------------------------------------------
    def _cibs(self) -> dict[str, str]:
        return {n: str(self.lab.rc.cluster.client(n).request("get_cib")["xml"])
                for n in self.lab.up()}

    def same_configuration(self, timeout: float = 20.0) -> list[Violation]:
        last: dict[str, tuple[str, str]] = {}

        def agree() -> bool:
            nonlocal last
            last = {n: _configuration(x) for n, x in self._cibs().items()}
            return len(set(last.values())) == 1

        try:
            self.lab.rc.wait("same configuration everywhere", agree, timeout=timeout)
            return []
        except ClusterError:
            versions = {n: v for n, (v, _) in last.items()}
            return [Violation("configuration", f"members disagree: versions {versions}")]

    def settled(self, timeout: float) -> list[Violation]:
        left: list[str] = []

        def done() -> bool:
            nonlocal left
            status = self.lab.rc.dc_status()
            if not status.get("is_dc") or status.get("in_flight"):
                left = [f"DC busy: {status.get('in_flight')} in flight"]
                return False
            client = self.lab.rc.cluster.client(str(status["node"]))
            node = client.status()
            dc_id = str(node["dc"]["id"]) if node.get("dc") else None
            # As the DC's controller stamps its input: quorum, DC and the date.
            raw = str(client.request("get_cib")["xml"])
            joining = self._not_joined(raw)
            if joining:
                left = [f"not joined yet on the DC: {', '.join(joining)}"]
                return False
            xml = stamp_input(raw, bool(node["quorum"]["quorate"]), dc_id, int(time.time()))
            cib = parse_input(xml)
            left = schedule(cib, execution_date(cib) or utc_now()).summary
            return not left

        try:
            self.lab.rc.wait("the cluster settled", done, timeout=timeout, poll=0.25)
            return []
        except (ClusterError, NotConnectedError):
            return [Violation("settled", f"not settled after {timeout:.0f}s: "
                                         + "; ".join(s.strip() for s in left)[:500])]

    def _not_joined(self, xml: str) -> list[str]:
        """Members whose status entry on the DC does not show them joined (in the view,
        controller online, history announced): until then the DC's scheduler has not seen
        them, and "nothing to do" means nothing yet (found by the lab: a restarted node's
        resources moved back 0.4 s after an audit had found the cluster settled)."""
        root = ET.fromstring(xml)
        joined = {ns.get("uname") for ns in root.iterfind("./status/node_state")
                  if (ns.get("in_ccm"), ns.get("crmd"), ns.get("join"))
                  == ("true", "online", "member")}
        return [n for n in self.lab.up() if n not in joined]

    def marks_kept(self, timeout: float = 20.0) -> list[Violation]:
        lost: dict[str, list[str]] = {}

        def all_there() -> bool:
            lost.clear()
            for node, xml in self._cibs().items():
                root = ET.fromstring(xml)
                present = {nv.get("name") for nv in root.iterfind(
                    f".//cluster_property_set[@id='{MARKS}']/nvpair")}
                missing = [m for m in self.lab.marks if m not in present]
                if missing:
                    lost[node] = missing
            return not lost

        try:
            self.lab.rc.wait("every committed change everywhere", all_there, timeout=timeout)
            return []
        except ClusterError as exc:
            return [Violation("lost-change", f"{node} lacks {', '.join(m)}")
                    for node, m in lost.items()] or [Violation("audit", str(exc))]

    def single_activation(self) -> list[Violation]:
        try:
            lines = self.lab.log.read_text().splitlines()
        except FileNotFoundError:
            return []
        found = []
        # Instances of a clone run on several nodes at once by design: only one per node.
        cloned = self.lab.cloned()
        acts = [a for a in read_activations(lines, self.lab.deaths())
                if a.resource not in cloned]
        for a, b in double_activations(acts):
            key = (a.resource, a.node, a.start, b.node, b.start)
            if key in self.reported_pairs:
                continue
            self.reported_pairs.add(key)
            found.append(Violation("double-activation",
                                   f"{a.resource} on {a.node} from {a.start:.3f} to {a.stop:.3f}"
                                   f" and on {b.node} from {b.start:.3f} to {b.stop:.3f}"))
        return found

    def daemons_alive(self) -> list[Violation]:
        found = []
        for node in self.lab.names:
            path = self.lab.dir / node / "daemon.log"
            try:
                with open(path, errors="replace") as log:
                    log.seek(self.log_offsets.get(node, 0))
                    text = log.read()
                    self.log_offsets[node] = log.tell()
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if any(sign in line for sign in CRASH_SIGNS):
                    found.append(Violation("daemon-crash", f"{node}: {line.strip()[:300]}"))
                    break
        return found


def _configuration(xml: str) -> tuple[str, str]:
    root = ET.fromstring(xml)
    version = f"{root.get('admin_epoch')}.{root.get('epoch')}"
    config = root.find("configuration")
    return version, "" if config is None else ET.tostring(config, encoding="unicode")


def strays(directory: Path) -> list[Violation]:
    """What the cluster left on the machine after it was torn down (should be nothing)."""
    found = []
    lay = hosts.layout(directory)
    if lay is not None:
        found += [Violation("stray", f"link {name}") for name in hosts.owned_links(lay)]
    marker = str(directory)
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in argv and int(pid) != os.getpid():
            found.append(Violation("stray", f"process {pid}: {argv.replace(chr(0), ' ')[:200]}"))
    return found
