"""Pacemaker's CTS scenarios (and a few faults of our own) as lab rounds.

Each scenario takes the lab cluster with every node up, does its thing with a seeded
``random.Random``, and leaves every node up and a member again; the runner audits after
it. Faults go through the real paths: the CLI's commands, clean stops of daemons, power
cuts of hosts, frozen hosts, cut cables, fencing by the cluster itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from defib.cluster import local
from defib.controller.observe import resource_locations
from defib.lab.cluster import LabCluster

Scenario = Callable[[LabCluster, random.Random], None]


@dataclass(frozen=True)
class Entry:
    name: str
    run: Scenario
    doc: str


def _pick(lab: LabCluster, rng: random.Random) -> str:
    return rng.choice(lab.up())


def _others(lab: LabCluster, *nodes: str) -> list[str]:
    return [n for n in lab.names if n not in nodes]


def flip(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.stop_node(node)
    lab.wait_members(_others(lab, node))
    lab.mark(f"flip {node} down")
    lab.start_node(node)
    lab.wait_members(lab.names)


def restart(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.stop_node(node)
    lab.start_node(node)
    lab.wait_members(lab.names)


def stonithd(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.cli("node", "fence", node, "--force")
    lab.wait_fenced(node)
    lab.wait_members(_others(lab, node))
    lab.bring_back()


def start_one_by_one(lab: LabCluster, rng: random.Random) -> None:
    local.stop(lab.dir, timeout=60.0)
    for node in lab.names:
        lab.rc.forget_pid(node)
        lab.rc.down.add(node)
    order = list(lab.names)
    rng.shuffle(order)
    for i, node in enumerate(order):
        lab.start_node(node)
        lab.wait_members(order[:i + 1])


def stop_one_by_one(lab: LabCluster, rng: random.Random) -> None:
    order = list(lab.names)
    rng.shuffle(order)
    for i, node in enumerate(order[:-1]):
        lab.stop_node(node)
        lab.wait_members(order[i + 1:])
    lab.stop_node(order[-1])
    lab.bring_back()


def restart_one_by_one(lab: LabCluster, rng: random.Random) -> None:
    order = list(lab.names)
    rng.shuffle(order)
    for node in order:
        lab.stop_node(node)
        lab.wait_members(_others(lab, node))
        lab.start_node(node)
        lab.wait_members(lab.names)


def simul_start(lab: LabCluster, rng: random.Random) -> None:
    local.stop(lab.dir, timeout=60.0)
    for node in lab.names:
        lab.rc.forget_pid(node)
        lab.rc.down.add(node)
    lab.bring_back()


def simul_stop(lab: LabCluster, rng: random.Random) -> None:
    local.stop(lab.dir, timeout=60.0)
    for node in lab.names:
        lab.rc.forget_pid(node)
        lab.rc.down.add(node)
    lab.bring_back()


def partial_start(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.stop_node(node)
    lab.wait_members(_others(lab, node))
    lab.start_node(node)
    time.sleep(rng.uniform(0.0, 0.5))  # stop it somewhere in the middle of its start
    lab.stop_node(node)
    lab.wait_members(_others(lab, node))
    lab.bring_back()


def standby(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.cli("node", "standby", node, "--wait")
    where = resource_locations(lab.rc.cib())
    on_it = [rsc for rsc, nodes in where.items() if node in nodes and rsc != "fence-local"]
    if on_it:
        raise AssertionError(f"{node} in standby still runs {on_it}")
    lab.cli("node", "online", node, "--wait")


def maintenance_mode(lab: LabCluster, rng: random.Random) -> None:
    starts_before = _starts(lab)
    lab.cli("property", "maintenance-mode", "true", "--wait")
    lab.mark("in maintenance")
    lab.cli("property", "maintenance-mode", "false", "--wait")
    if _starts(lab) != starts_before:
        raise AssertionError("maintenance mode on and off started resources again")


def _starts(lab: LabCluster) -> int:
    try:
        return sum(1 for line in lab.log.read_text().splitlines() if line.startswith("start "))
    except FileNotFoundError:
        return 0


def resource_recover(lab: LabCluster, rng: random.Random) -> None:
    where = resource_locations(lab.rc.cib())
    candidates = sorted(r for r, nodes in where.items()
                        if r.startswith("r") and len(nodes) == 1 and nodes[0] in lab.up())
    if not candidates:
        raise AssertionError(f"no Recorder runs to fail: {where}")
    rsc = rng.choice(candidates)
    node = where[rsc][0]
    starts = _starts(lab)
    # The lab kills the service: it stopped now, whatever the cluster thinks.
    with open(lab.log, "a") as log:
        log.write(f"stop {time.time():.6f} {node} {rsc}\n")
    (lab.dir / node / "run" / f"Recorder-{rsc}.state").unlink()  # its HA_RSCTMP
    lab.rc.wait(f"{rsc} recovered", lambda: _starts(lab) > starts, timeout=30)
    lab.cli("resource", "cleanup", rsc, "--wait")


def component_fail(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.crash_daemon(node)
    lab.wait_fenced(node)
    lab.bring_back()


def split_brain(lab: LabCluster, rng: random.Random) -> None:
    order = list(lab.names)
    rng.shuffle(order)
    cut = rng.randint(1, len(order) // 2)
    minority, majority = order[:cut], order[cut:]
    lab.fault.partition(minority, majority)
    try:
        if len(majority) > len(minority):
            for node in minority:
                lab.wait_fenced(node, timeout=60)
            lab.wait_members(majority)
        else:  # an even split: nobody has quorum, nobody may fence
            lab.rc.wait("both halves see the split",
                        lambda: all(lab.members_of(n) == sorted(minority) for n in minority),
                        timeout=30)
    finally:
        lab.fault.heal()
    lab.bring_back()


def reattach(lab: LabCluster, rng: random.Random) -> None:
    lab.cli("property", "maintenance-mode", "true", "--wait")
    starts = _starts(lab)
    before = _services(lab)
    for node in lab.names:  # every daemon dies; the hosts and their resources stay
        lab.crash_daemon(node)
    lab.bring_back()
    # The new daemons' probes find every service where it ran, and nothing is started.
    # (A fence device is not a service: its registration dies with the daemon, as a
    # restarted Pacemaker fencer has none either.)
    lab.rc.wait("the probes found everything where it ran",
                lambda: _services(lab) == before, timeout=30)
    if _starts(lab) != starts:
        raise AssertionError("resources were started again while the daemons reattached")
    # Out of maintenance the cluster may move what it would have placed elsewhere (as
    # Pacemaker does, without stickiness); the audit checks it settles, never doubled.
    lab.cli("property", "maintenance-mode", "false", "--wait")


def _services(lab: LabCluster) -> dict[str, list[str]]:
    return {rsc: nodes for rsc, nodes in resource_locations(lab.rc.cib()).items()
            if rsc != "fence-local"}


def resync_cib(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.stop_node(node)
    lab.wait_members(_others(lab, node))
    for i in range(rng.randint(1, 3)):
        lab.mark(f"while {node} was down ({i})")
    lab.start_node(node)
    lab.wait_members(lab.names)


def near_quorum(lab: LabCluster, rng: random.Random) -> None:
    order = list(lab.names)
    rng.shuffle(order)
    lost = order[:(len(order) - 1) // 2]  # as many as the cluster can lose and keep quorum
    for node in lost:
        lab.power_off(node)
    lab.wait_members(order[len(lost):])
    lab.mark(f"quorate without {', '.join(lost)}")
    lab.bring_back()


def power_cut(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.power_off(node)
    lab.wait_members(_others(lab, node))
    lab.bring_back()


def freeze(lab: LabCluster, rng: random.Random) -> None:
    node = _pick(lab, rng)
    lab.fault.freeze(node)
    lab.wait_fenced(node)
    lab.fault.thaw(node)  # nothing left to thaw: forget it
    lab.bring_back()


def slow_network(lab: LabCluster, rng: random.Random) -> None:
    """Delay, jitter and reordering on every link; then changes, a standby and a power cut
    must go through as on a quiet network (the transport's faults: defib.cluster.netfault)."""
    for node in lab.names:
        lab.fault.delay(node, rng.uniform(5, 40), rng.uniform(5, 40))
        lab.fault.reorder(node, rng.uniform(0.1, 0.3), rng.uniform(10, 60))
    try:
        lab.mark("under delay and reordering")
        node = _pick(lab, rng)
        lab.cli("node", "standby", node, "--wait")
        lab.cli("node", "online", node, "--wait")
        victim = _pick(lab, rng)
        lab.power_off(victim)
        lab.wait_members(_others(lab, victim))
        lab.mark(f"without {victim}, under delay")
        lab.bring_back()
    finally:
        lab.fault.net.heal()


SCENARIOS: dict[str, Entry] = {e.name: e for e in (
    Entry("FlipTest", flip, "stop a node cleanly, change the configuration, start it"),
    Entry("RestartTest", restart, "stop a node cleanly and start it again at once"),
    Entry("StonithdTest", stonithd, "fence a node with `defib node fence`; it comes back"),
    Entry("StartOnebyOne", start_one_by_one, "stop all, start the nodes one at a time"),
    Entry("StopOnebyOne", stop_one_by_one, "stop the nodes one at a time, then start all"),
    Entry("RestartOnebyOne", restart_one_by_one, "restart every node in turn"),
    Entry("SimulStart", simul_start, "stop all, start all at once"),
    Entry("SimulStop", simul_stop, "stop all at once, then start all"),
    Entry("PartialStart", partial_start, "stop a node while it is starting"),
    Entry("StandbyTest", standby, "standby moves everything off a node; online again"),
    Entry("MaintenanceMode", maintenance_mode, "maintenance on and off restarts nothing"),
    Entry("ResourceRecover", resource_recover, "a resource dies; the cluster recovers it"),
    Entry("ComponentFail", component_fail, "the daemon alone dies: its host is fenced"),
    Entry("SplitBrainTest", split_brain, "a partition: the majority fences the minority"),
    Entry("Reattach", reattach, "daemons die in maintenance mode; new ones reattach"),
    Entry("ResyncCIB", resync_cib, "changes made while a node is down reach it"),
    Entry("NearQuorumPointTest", near_quorum, "lose as many nodes as quorum allows"),
    Entry("PowerCut", power_cut, "a host loses power; its resources move"),
    Entry("Freeze", freeze, "a host hangs (SIGSTOP of all its processes): fenced"),
    Entry("SlowNetwork", slow_network, "delay, jitter, reordering on every link; a standby"
          " and a power cut go through"),
)}
