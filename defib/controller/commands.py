"""Resource commands against a running cluster (through any node's control socket):
a resource view, cleanup, move and clear — what ``crm_mon``/``crm_resource`` do."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defib.cluster.client import ControlClient
from defib.cluster.config import load_config
from defib.cluster.local import CONFIG_NAME
from defib.controller.cibinput import parse_input
from defib.errors import ClusterError, NotConnectedError, UnknownReferenceError
from defib.scheduler.pipeline import unpack


def _clients(directory: Path) -> list[ControlClient]:
    cfg = load_config(directory / CONFIG_NAME)
    return [ControlClient.for_node(directory, n.name, timeout=5.0) for n in cfg.nodes]


def request(directory: Path, op: str, **fields: Any) -> dict[str, Any]:
    errors = []
    for client in _clients(directory):
        try:
            return client.request(op, **fields)
        except (NotConnectedError, ClusterError) as exc:
            errors.append(str(exc))
    raise NotConnectedError(f"no node of {directory} answers {op}: " + "; ".join(errors))


@dataclass
class ResourceView:
    dc: str | None
    nodes: dict[str, str]  # name -> online / OFFLINE / UNCLEAN / standby ...
    resources: list[tuple[str, str, list[str]]]  # id, agent, nodes it runs on
    fail_counts: dict[str, dict[str, str]] = field(default_factory=dict)
    fence_failures: dict[str, str] = field(default_factory=dict)
    transition: int = -1

    def lines(self) -> list[str]:
        out = [f"DC: {self.dc}   last transition: {self.transition}", "Nodes:"]
        out += [f"  * {name}: {state}" for name, state in self.nodes.items()]
        out.append("Resources:")
        for rsc, agent, where in self.resources:
            state = f"Started {' '.join(where)}" if where else "Stopped"
            out.append(f"  * {rsc}\t({agent}):\t {state}")
        if any(self.fail_counts.values()):
            out.append("Failures:")
            for node, counts in self.fail_counts.items():
                for name, value in sorted(counts.items()):
                    out.append(f"  * {node}: {name}={value}")
        for node, reason in self.fence_failures.items():
            out.append(f"FENCING OF {node} FAILED: {reason} (its recovery waits)")
        return out


def resource_view(directory: Path) -> ResourceView:
    cib = str(request(directory, "get_cib")["xml"])
    ws = unpack(parse_input(cib), None)
    ctl = request(directory, "crm_status")
    dc = ctl.get("dc")
    if dc and dc != ctl.get("node"):
        ctl = ControlClient.for_node(directory, str(dc), timeout=5.0).request("crm_status")
    nodes = {}
    for node in ws.nodes:
        state = "online" if node.online else ("UNCLEAN (offline)" if node.unclean
                                              else "OFFLINE")
        if node.standby and node.online:
            state = "standby"
        nodes[node.uname] = state
    counts = {}
    for node_state in ws.cib.node_states:
        pairs = {k: v for nv in node_state.transient_attributes for k, v in nv.pairs
                 if k.startswith("fail-count-")}
        counts[node_state.uname or node_state.id] = pairs
    resources = [(p.id, p.agent, [n.uname for n in p.running_on]) for p in ws.all_primitives()]
    return ResourceView(dc, nodes, resources, counts, dict(ctl.get("fence_failures", {})),
                        int(ctl.get("transition", -1)))


def cleanup(directory: Path, rsc: str | None, node: str | None) -> None:
    request(directory, "crm_cleanup", rsc=rsc, node=node)


def _constraints(directory: Path) -> tuple[ET.Element, set[str]]:
    root = ET.fromstring(str(request(directory, "get_cib")["xml"]))
    section = root.find("configuration/constraints")
    if section is None:
        section = ET.Element("constraints")
    ids = {el.get("id", "") for el in root.iter() if el.get("id")}
    return section, ids


def move(directory: Path, rsc: str, node: str) -> None:
    """Prefer ``node`` for ``rsc`` with INFINITY (``cli-prefer-<rsc>``, as crm_resource)."""
    section, ids = _constraints(directory)
    if rsc not in ids:
        raise UnknownReferenceError(f"no resource {rsc!r} in the CIB", rsc)
    for el in list(section):
        if el.get("id") == f"cli-prefer-{rsc}":
            section.remove(el)
    ET.SubElement(section, "rsc_location", {"id": f"cli-prefer-{rsc}", "rsc": rsc,
                                            "node": node, "score": "INFINITY",
                                            "role": "Started"})
    request(directory, "cib_change", change={"op": "replace_section", "section": "constraints",
                                             "xml": ET.tostring(section, encoding="unicode")})


def clear(directory: Path, rsc: str) -> bool:
    """Remove the constraints ``move`` created; True when there was one."""
    section, _ = _constraints(directory)
    found = [el for el in section if el.get("id") in (f"cli-prefer-{rsc}", f"cli-ban-{rsc}")]
    for el in found:
        section.remove(el)
    if found:
        request(directory, "cib_change",
                change={"op": "replace_section", "section": "constraints",
                        "xml": ET.tostring(section, encoding="unicode")})
    return bool(found)
