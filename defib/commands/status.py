"""What ``crm_mon -1`` shows beyond the membership header: resources (by group and clone,
through the simulator's status view), the migration summary (fail counts), failed resource
actions and tickets; as text in crm_mon's layout, as crm_mon's XML, or as a dict for JSON."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from defib.commands.env import CommandEnv
from defib.commands.placement import working_set
from defib.commands.resource import fail_counts
from defib.commands.result import Result
from defib.executor.types import ExecStatus, OcfRc
from defib.scheduler.working import CloneRt, GroupRt, Prim, Rsc

if TYPE_CHECKING:
    from defib.scheduler.unpack import WorkingSet

RC_TEXT = {
    OcfRc.OK: "ok", OcfRc.UNKNOWN_ERROR: "error", OcfRc.INVALID_PARAM: "invalid parameter",
    OcfRc.UNIMPLEMENT_FEATURE: "unimplemented feature",
    OcfRc.INSUFFICIENT_PRIV: "insufficient privileges", OcfRc.NOT_INSTALLED: "not installed",
    OcfRc.NOT_CONFIGURED: "not configured", OcfRc.NOT_RUNNING: "not running",
    OcfRc.RUNNING_PROMOTED: "promoted", OcfRc.FAILED_PROMOTED: "promoted (failed)",
    OcfRc.DEGRADED: "degraded", OcfRc.DEGRADED_PROMOTED: "degraded promoted",
}
STATUS_TEXT = {
    ExecStatus.PENDING: "pending", ExecStatus.DONE: "complete",
    ExecStatus.CANCELLED: "Cancelled", ExecStatus.TIMEOUT: "Timed Out",
    ExecStatus.NOT_SUPPORTED: "NOT SUPPORTED", ExecStatus.ERROR: "Error",
    ExecStatus.NO_FENCE_DEVICE: "No fence device", ExecStatus.NOT_INSTALLED: "Not installed",
    ExecStatus.NOT_CONNECTED: "Not connected", ExecStatus.INVALID: "Invalid",
    ExecStatus.NO_SECRETS: "No secrets",
}


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def when(epoch: int | str | None) -> str:
    """A time as crm_mon prints it ("Fri Nov 27 17:05:01 2026")."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(_int(str(epoch or 0))))


@dataclass(frozen=True)
class Failure:
    op_key: str
    node: str
    rc: int
    status: int
    call: int
    reason: str
    last_rc_change: int
    queued: int
    exec_ms: int
    interval: int
    task: str

    @property
    def rc_text(self) -> str:
        return RC_TEXT.get(OcfRc(self.rc), "unknown") if self.rc in set(OcfRc) else "unknown"

    @property
    def status_text(self) -> str:
        if self.status not in set(ExecStatus):
            return "unknown"
        return STATUS_TEXT.get(ExecStatus(self.status), "unknown")

    def line(self) -> str:
        reason = f", exitreason='{self.reason}'" if self.reason else ""
        return (f"  * {self.op_key} on {self.node} '{self.rc_text}' ({self.rc}): "
                f"call={self.call}, status='{self.status_text}'{reason}, "
                f"last-rc-change='{when(self.last_rc_change)}', queued={self.queued}ms, "
                f"exec={self.exec_ms}ms")


def failures(root: ET.Element) -> list[Failure]:
    """Each resource's latest failure per node (its ``*_last_failure_0`` history entry)."""
    out = []
    for state in root.iterfind("status/node_state"):
        node = state.get("uname") or state.get("id") or ""
        for op in state.iter("lrm_rsc_op"):
            if not op.get("id", "").endswith("_last_failure_0") or _found_running(op):
                continue
            out.append(Failure(
                op.get("operation_key") or op.get("id") or "", node, _int(op.get("rc-code")),
                _int(op.get("op-status")), _int(op.get("call-id")), op.get("exit-reason", ""),
                _int(op.get("last-rc-change")), _int(op.get("queue-time")),
                _int(op.get("exec-time")), _int(op.get("interval")),
                op.get("operation", "")))
    return out


def _found_running(op: ET.Element) -> bool:
    """A probe that found the resource active is recorded as a failure (its rc is not the
    expected "not running") but is not one: Pacemaker reads it as the resource's state."""
    probe = op.get("operation") == "monitor" and _int(op.get("interval")) == 0
    return probe and _int(op.get("op-status")) == ExecStatus.DONE and _int(
        op.get("rc-code")) in (OcfRc.OK, OcfRc.RUNNING_PROMOTED)


@dataclass(frozen=True)
class View:
    """crm_mon's display options: -r --inactive, -n --group-by-node,
    -A --show-node-attributes, -f --failcounts."""

    inactive: bool = False
    by_node: bool = False
    node_attributes: bool = False
    failcounts: bool = False


@dataclass
class ResourceStatus:
    """The resource part of the cluster status, from the CIB."""

    root: ET.Element
    ws: WorkingSet

    # -- text ------------------------------------------------------------------------------
    def node_mode_lines(self) -> list[str]:
        """Node List entries for nodes in a mode (standby, maintenance, unclean ...)."""
        from defib.simulate.status import StatusView

        lines = StatusView(self.ws).node_lines()[1:]
        return [line[2:] for line in lines if "Node " in line and ": [" not in line]

    def resource_lines(self, inactive: bool = True) -> list[str]:
        from defib.simulate.status import StatusView

        title, *items = StatusView(self.ws, inactive=inactive).resource_lines()
        return [title.strip().removeprefix("* "), *(line[2:] for line in items)]

    def fail_count_table(self) -> dict[str, dict[str, dict[str, str]]]:
        """node -> resource -> {fail-count, last-failure, migration-threshold}."""
        prims = {p.base_id(): p for p in self.ws.all_primitives()}
        table: dict[str, dict[str, dict[str, str]]] = {}
        counts = fail_counts(self.root, list(prims), None)
        last = _last_failures(self.root)
        for node, per_op in sorted(counts.items()):
            by_rsc: dict[str, int] = {}
            for key, value in per_op.items():
                rsc = key.rpartition("#")[0]
                number = 1_000_000 if value.upper().lstrip("+") == "INFINITY" else _int(value)
                by_rsc[rsc] = min(by_rsc.get(rsc, 0) + number, 1_000_000)
            for rsc, total in sorted(by_rsc.items()):
                if total <= 0:
                    continue
                prim = prims.get(rsc.split(":", 1)[0])
                threshold = prim.migration_threshold if prim is not None else 1_000_000
                table.setdefault(node, {})[rsc] = {
                    "fail-count": "INFINITY" if total >= 1_000_000 else str(total),
                    "migration-threshold": str(threshold),
                    "last-failure": str(last.get((node, rsc), 0)),
                }
        return table

    def _inactive_lines(self) -> list[str]:
        from defib.simulate.status import StatusView

        view = StatusView(self.ws)
        stopped = [p for p in self.ws.all_primitives() if not p.running_on and not p.orphan]
        return [f"  * {view.primitive(p)}" for p in sorted(stopped, key=lambda p: p.id)] \
            or ["  * No inactive resources"]

    def by_node_lines(self) -> list[str]:
        """crm_mon --group-by-node: each node with what is active on it."""
        from defib.simulate.status import StatusView

        view = StatusView(self.ws)
        out = ["Node List:"]
        for node in self.ws.nodes:
            state = ("standby" if node.standby else "online") if node.online else (
                "UNCLEAN (offline)" if node.unclean else "OFFLINE")
            if node.maintenance:
                state += " (maintenance)"
            out.append(f"  * Node {node.uname}: {state}:")
            for prim in sorted(node.running, key=lambda p: p.id):
                line = view.primitive(prim).split("\t")
                out.append(f"    * {line[0]}\t{line[1]}\t {prim.role}"
                           if len(line) > 1 else f"    * {line[0]}")
        return out

    def node_attributes(self) -> dict[str, dict[str, str]]:
        """node -> its attributes (permanent and transient), without the built-in ones."""
        return {n.uname: {k: v for k, v in sorted(n.attrs.items()) if not k.startswith("#")
                          and not k.startswith(("fail-count-", "last-failure-"))}
                for n in self.ws.nodes}

    def node_attribute_lines(self) -> list[str]:
        """crm_mon --show-node-attributes."""
        out = ["", "Node Attributes:"]
        for node in self.ws.nodes:
            out.append(f"  * Node: {node.uname} ({node.id}):")
            out += [f"    * {k:<32}: {v}" for k, v in self.node_attributes()[node.uname].items()]
        return out

    def fail_count_lines(self, every_node: bool = False) -> list[str]:
        """crm_mon's Migration Summary (``every_node``: --failcounts lists every node)."""
        table = self.fail_count_table()
        if not table and not every_node:
            return []
        out = ["", "Migration Summary:"]
        names = [n.uname for n in self.ws.nodes] if every_node else list(table)
        for node in names:
            out.append(f"  * Node: {node}:")
            for rsc, info in table.get(node, {}).items():
                out.append(f"    * {rsc}: migration-threshold={info['migration-threshold']}"
                           f" fail-count={info['fail-count']}"
                           f" last-failure='{when(info['last-failure'])}'")
        return out

    def tickets(self) -> list[dict[str, str]]:
        names = {el.get("ticket", "") for el in self.root.iter("rsc_ticket") if el.get("ticket")}
        states = {el.get("id", ""): el for el in self.root.iterfind("status/tickets/ticket_state")}
        out = []
        for name in sorted(names | set(states)):
            state = states.get(name)
            granted = state is not None and state.get("granted") == "true"
            out.append({"id": name, "status": "granted" if granted else "revoked",
                        "standby": "true" if state is not None
                        and state.get("standby") == "true" else "false",
                        "last-granted": state.get("last-granted", "") if state is not None
                        else ""})
        return out

    def lines(self, view: View | None = None) -> list[str]:
        view = view or View()
        if view.by_node:
            out = ["", *self.by_node_lines()]
            if view.inactive:
                out += ["", "Inactive Resources:", *self._inactive_lines()]
        else:
            out = ["", *self.resource_lines(view.inactive)]
        if view.node_attributes:
            out += self.node_attribute_lines()
        out += self.fail_count_lines(view.failcounts)
        failed = failures(self.root)
        if failed:
            out += ["", "Failed Resource Actions:", *(f.line() for f in failed)]
        tickets = self.tickets()
        if tickets:
            out += ["", "Tickets:"]
            for t in tickets:
                extra = " standby" if t["standby"] == "true" else ""
                granted = f" last-granted='{when(t['last-granted'])}'" if t["last-granted"] \
                    else ""
                out.append(f"  * {t['id']}:\t{t['status']}{extra}{granted}")
        return out

    # -- data ------------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        return [{"name": n.uname, "id": n.id, "online": n.online, "standby": n.standby,
                 "maintenance": n.maintenance, "unclean": n.unclean, "pending": n.pending,
                 "shutdown": n.shutdown, "type": n.type,
                 "resources_running": len(n.running)}
                for n in self.ws.nodes]

    def resources(self) -> list[dict[str, Any]]:
        return [_rsc_dict(rsc) for rsc in self.ws.resources if not rsc.orphan
                or any(p.running_on for p in rsc.primitives())]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cib_nodes": self.nodes(),
            "node_attributes": self.node_attributes(),
            "resources": self.resources(),
            "fail_counts": self.fail_count_table(),
            "failures": [f.__dict__ | {"exitstatus": f.rc_text, "status_text": f.status_text}
                         for f in failures(self.root)],
            "tickets": self.tickets(),
        }

    def xml_sections(self) -> list[ET.Element]:
        """crm_mon's ``<nodes>``, ``<resources>``, ``<node_history>``, ``<failures>``,
        ``<tickets>`` elements."""
        nodes = ET.Element("nodes")
        for n in self.nodes():
            ET.SubElement(nodes, "node", {k: _xml_value(v) for k, v in n.items()})
        resources = ET.Element("resources")
        for entry in self.resources():
            _rsc_xml(resources, entry)
        history = ET.Element("node_history")
        for node, per_rsc in self.fail_count_table().items():
            el = ET.SubElement(history, "node", {"name": node})
            for rsc_id, info in per_rsc.items():
                ET.SubElement(el, "resource_history", {"id": rsc_id, **info})
        failed = ET.Element("failures")
        for f in failures(self.root):
            ET.SubElement(failed, "failure", {
                "op_key": f.op_key, "node": f.node, "exitstatus": f.rc_text,
                "exitreason": f.reason, "exitcode": str(f.rc), "call": str(f.call),
                "status": f.status_text, "last-rc-change": when(f.last_rc_change),
                "queued": str(f.queued), "exec": str(f.exec_ms), "interval": str(f.interval),
                "task": f.task})
        tickets = ET.Element("tickets")
        for t in self.tickets():
            ET.SubElement(tickets, "ticket", t)
        return [nodes, resources, history, failed, tickets]


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _last_failures(root: ET.Element) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for state in root.iterfind("status/node_state"):
        node = state.get("uname") or state.get("id") or ""
        for nv in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            name = nv.get("name", "")
            if name.startswith("last-failure-"):
                rsc = name[len("last-failure-"):].rpartition("#")[0]
                out[(node, rsc)] = max(out.get((node, rsc), 0), _int(nv.get("value")))
    return out


def _rsc_dict(rsc: Rsc) -> dict[str, Any]:
    if isinstance(rsc, Prim):
        return {"kind": "resource", "id": rsc.id, "resource_agent": rsc.agent,
                "role": rsc.role, "target_role": rsc.target_role,
                "active": bool(rsc.running_on), "orphaned": rsc.orphan,
                "blocked": rsc.blocked, "managed": rsc.managed, "failed": rsc.failed,
                "nodes_running_on": len(rsc.running_on),
                "nodes": [{"name": n.uname, "id": n.id} for n in rsc.running_on]}
    if isinstance(rsc, GroupRt):
        return {"kind": "group", "id": rsc.id, "number_resources": len(rsc.children),
                "managed": rsc.managed, "children": [_rsc_dict(c) for c in rsc.children]}
    if isinstance(rsc, CloneRt):
        return {"kind": "clone", "id": rsc.id, "multi_state": rsc.promotable,
                "unique": rsc.globally_unique, "managed": rsc.managed,
                "children": [_rsc_dict(c) for c in rsc.instances]}
    return {"kind": rsc.kind, "id": rsc.id}


def _rsc_xml(parent: ET.Element, rsc: dict[str, Any]) -> None:
    attrs = {k: _xml_value(v) for k, v in rsc.items()
             if k not in ("kind", "children", "nodes")}
    el = ET.SubElement(parent, rsc["kind"], attrs)
    for node in rsc.get("nodes", []):
        ET.SubElement(el, "node", {"name": node["name"], "id": node["id"], "cached": "true"})
    for child in rsc.get("children", []):
        _rsc_xml(el, child)


def resource_status(env: CommandEnv) -> ResourceStatus:
    xml = env.read()
    return ResourceStatus(ET.fromstring(xml), working_set(env, xml))


def resources(env: CommandEnv) -> Result:
    """``resource status``: crm_mon's resource part (resources, migration summary, failed
    actions, tickets), from a running cluster or a CIB file."""
    report = resource_status(env)
    return Result(output="\n".join(report.lines()).strip("\n"), data=report.to_dict())


def crm_mon_xml(summary: dict[str, Any] | None, report: ResourceStatus) -> str:
    """crm_mon's ``--output-as=xml`` document; ``summary`` is the node's ``status`` answer."""
    root = ET.Element("pacemaker-result", {"api-version": "2.25",
                                           "request": "defib status --xml"})
    summ = ET.SubElement(root, "summary")
    ET.SubElement(summ, "stack", {"type": "defib-heartbeat"})
    if summary is not None:
        dc = summary.get("dc")
        quorate = bool(summary.get("quorum", {}).get("quorate"))
        ET.SubElement(summ, "current_dc", {"present": "true" if dc else "false",
                                           **({"name": dc["name"], "id": str(dc["id"]),
                                               "with_quorum": _xml_value(quorate)}
                                              if dc else {})})
    ET.SubElement(summ, "last_update", {"time": when(int(time.time())),
                                        **({"origin": summary["node"]["name"]}
                                           if summary else {})})
    ET.SubElement(summ, "nodes_configured", {"number": str(len(report.ws.nodes))})
    ET.SubElement(summ, "resources_configured",
                  {"number": str(len(report.ws.all_primitives()))})
    props = report.ws.config
    ET.SubElement(summ, "cluster_options", {
        "stonith-enabled": _xml_value(props.stonith_enabled),
        "symmetric-cluster": _xml_value(props.symmetric),
        "no-quorum-policy": props.no_quorum_policy,
        "maintenance-mode": _xml_value(props.maintenance_mode),
        "stop-all-resources": _xml_value(props.stop_all_resources)})
    root.extend(report.xml_sections())
    ET.SubElement(root, "status", {"code": "0", "message": "OK"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def instance_line(report: ResourceStatus) -> str:
    """crm_mon's "N resource instances configured (M DISABLED)" summary line."""
    prims = [p for p in report.ws.all_primitives() if not p.orphan]
    disabled = sum(1 for p in prims if p.target_role == "Stopped"
                   or any(a.meta.get("target-role", "").lower() == "stopped"
                          for a in _ancestors(p)))
    text = f"  * {len(prims)} resource instances configured"
    return text + (f" ({disabled} DISABLED)" if disabled else "")


def _ancestors(rsc: Rsc) -> list[Rsc]:
    out = []
    while rsc.parent is not None:
        rsc = rsc.parent
        out.append(rsc)
    return out


def full_text(header: str, report: ResourceStatus, view: View | None = None) -> str:
    """The membership header (``defib status``'s, ending with its Node List) completed to
    crm_mon -1's layout: resource count, node modes, resources, fail counts, failures,
    tickets. Grouped by node, the nodes with their resources replace the Node List."""
    view = view or View()
    lines = header.split("\n")
    for i, line in enumerate(lines):
        if line.endswith(" nodes configured"):
            lines.insert(i + 1, instance_line(report))
            break
    if view.by_node and "Node List:" in lines:
        lines = lines[:lines.index("Node List:")]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join([*lines, *report.lines(view)])
    return "\n".join([*lines, *report.node_mode_lines(), *report.lines(view)])


def full_dict(status: dict[str, Any], report: ResourceStatus) -> dict[str, Any]:
    """``defib status --json``: the node's status answer plus the resource report."""
    return {**status, **report.to_dict()}
