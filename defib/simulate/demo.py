"""The simulated demo: a sample 3-node cluster, and what defib decides when a node dies.

The node that runs the ``web`` group disappears from the membership without having shut
down (as after a power loss): the scheduler must fence it and recover its resources on the
survivors. The output is ``defib simulate``'s, so it can be diffed with crm_simulate's.
"""

from __future__ import annotations

import dataclasses
from importlib import resources

from defib.cib.parse import parse_cib
from defib.errors import ConfigError
from defib.model.cib import Cib
from defib.scheduler.pipeline import unpack
from defib.scheduler.working import GroupRt
from defib.simulate.engine import Simulation, simulate
from defib.simulate.status import render_status

SAMPLE = "demo-cluster.xml"
WEB_GROUP = "web"


def sample_text() -> str:
    return resources.files("defib.data").joinpath(SAMPLE).read_text(encoding="utf-8")


def load_sample() -> Cib:
    return parse_cib(sample_text())


def node_running(cib: Cib, group_id: str = WEB_GROUP) -> str:
    """The node the group runs on (the node of its first active member)."""
    ws = unpack(cib, None)
    group = ws.rsc(group_id)
    if not isinstance(group, GroupRt):
        raise ConfigError(f"the sample has no group {group_id!r}", group_id)
    for prim in group.children:
        if prim.running_on:
            return prim.running_on[0].uname
    raise ConfigError(f"group {group_id!r} runs nowhere in the sample", group_id)


def lose_node(cib: Cib, uname: str) -> Cib:
    """``uname`` left the membership unexpectedly: still expected up, no longer a peer."""
    states = []
    found = False
    for state in cib.node_states:
        if state.uname == uname:
            found = True
            state = dataclasses.replace(state, in_ccm="false", crmd="offline")
        states.append(state)
    if not found:
        raise ConfigError(f"no node {uname!r} in the CIB status", uname)
    return dataclasses.replace(cib, node_states=tuple(states))


@dataclasses.dataclass
class Demo:
    cib: Cib
    victim: str
    before: list[str]
    after: Simulation

    def intro(self) -> list[str]:
        return [
            "defib demo (simulated): a 3-node cluster, from defib/data/" + SAMPLE,
            "",
            *self.before,
            "",
        ]

    def event(self) -> list[str]:
        return [
            f"Node {self.victim} runs the {WEB_GROUP!r} group. Simulating its death: {self.victim}",
            "drops out of the membership without shutting down (as after a power loss).",
            "What defib decides, printed as `defib simulate -S` prints it:",
            "",
        ]


def run_demo(cib: Cib | None = None) -> Demo:
    cib = cib if cib is not None else load_sample()
    victim = node_running(cib)
    before = render_status(unpack(cib, None), "Cluster status:")
    after = simulate(lose_node(cib, victim))
    return Demo(cib, victim, before, after)
