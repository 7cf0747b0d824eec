"""More ``resource`` commands with crm_resource's semantics: instance, meta and utilization
attributes (``--set-parameter``/``--get-parameter``/``--delete-parameter`` with ``--meta`` or
``--utilization``), ``--list``, ``--list-operations``, ``--refresh`` and ``--why``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.placement import working_set
from defib.commands.report import Report, info
from defib.commands.resource import cleanup, fail_counts, set_meta
from defib.commands.result import Result, done, shown
from defib.errors import CommandError
from defib.scheduler.working import Prim

if TYPE_CHECKING:
    from defib.scheduler.unpack import WorkingSet

# attribute kind -> (CIB tag, id suffix crm_resource gives the set)
KINDS = {"param": ("instance_attributes", "instance_attributes"),
         "meta": ("meta_attributes", "meta_attributes"),
         "utilization": ("utilization", "utilization")}


def attribute(env: CommandEnv, rsc: str, kind: str, name: str | None = None,
              value: str | None = None, delete: bool = False) -> Result:
    """List (no ``name``), show, set or delete one of ``rsc``'s attributes of ``kind``
    (param, meta or utilization)."""
    if kind not in KINDS:
        raise CommandError(f"unknown attribute kind {kind!r}: param, meta or utilization",
                           kind, code="usage")
    tag, suffix = KINDS[kind]
    root = ET.fromstring(env.read())
    element = cibtree.find_resource(root, rsc)
    if name is None:
        values = cibtree.all_nv(element, tag)
        lines = [f"{rsc}: {k}={v}" for k, v in sorted(values.items())]
        return shown(lines or [f"{rsc}: no {kind} attributes"], {"values": values})
    if not delete and value is None:
        current = cibtree.get_nv(element, tag, name)
        if current is None:
            raise CommandError(f"{rsc} has no {kind} attribute {name!r}", name,
                               code="attribute-not-set")
        return shown(f"{rsc}: {name}={current}", {"name": name, "value": current})
    if kind == "meta":
        # Where crm_resource puts meta attributes (the clone for a clone's child), and what
        # it removes below so that the new value is in effect.
        return set_meta(env, rsc, name, None if delete else value)
    if kind == "param" and not delete:
        _check_parameter(element, name)
    if kind == "utilization" and value is not None and not value.lstrip("-").isdigit():
        raise CommandError(f"invalid utilization {name}={value!r}: an integer is needed",
                           name, code="invalid-value")

    def change(root: ET.Element) -> bool:
        owner = cibtree.find_resource(root, rsc)
        return cibtree.set_nv(root, owner, tag, f"{owner.get('id')}-{suffix}", name,
                              None if delete else value)

    changed = edit(env, change)
    if delete:
        return done(f"{kind}-deleted", f"{rsc}: {kind} {name} "
                    + ("deleted" if changed else "was not set"), rsc, changed=changed,
                    data={"resource": rsc, "name": name})
    return done(f"{kind}-set", f"{rsc}: {name}={value}" + ("" if changed else " (unchanged)"),
                rsc, changed=changed, data={"resource": rsc, "name": name, "value": value})


def _check_parameter(element: ET.Element, name: str) -> None:
    """A parameter the resource's agent does not take is a typo (when the agent's metadata
    is at hand: an agent not installed here is not judged)."""
    from defib.configure.agents import LocalAgents
    from defib.configure.syntax import suggest
    from defib.configure.validate import IMPLICIT_PARAMS

    if element.tag != "primitive" or element.get("template"):
        return
    info = LocalAgents().info(element.get("class", ""), element.get("provider"),
                              element.get("type", ""))
    if info is None or not info.parameters or name in info.parameters \
            or name in IMPLICIT_PARAMS:
        return
    hint = suggest(name, list(info.parameters))
    raise CommandError(f"{info.spec} has no parameter {name!r}"
                       + (f" (did you mean {hint!r}?)" if hint else ""), name,
                       code="unknown-parameter")


def listing(env: CommandEnv) -> Result:
    """Every resource with its state (crm_resource --list)."""
    from defib.commands.status import resource_status

    report = resource_status(env)
    lines = report.resource_lines()[1:]
    return shown([line.removeprefix("  ") for line in lines] or ["NO resources configured"],
                 {"resources": report.resources()})


def operations(env: CommandEnv, rsc: str | None = None, node: str | None = None) -> Result:
    """The operation history the status section holds (crm_resource --list-operations)."""
    root = ET.fromstring(env.read())
    prims = None
    if rsc is not None:
        prims = set(cibtree.primitive_ids(cibtree.find_resource(root, rsc)))
    if node is not None:
        cibtree.check_node(root, node)
    lines, data = [], []
    for state in root.iterfind("status/node_state"):
        uname = state.get("uname") or state.get("id") or ""
        if node is not None and uname != node:
            continue
        for entry in state.iter("lrm_resource"):
            lid = entry.get("id", "")
            if prims is not None and lid.split(":", 1)[0] not in prims:
                continue
            agent = ":".join(x for x in (entry.get("class"), entry.get("provider"),
                                         entry.get("type")) if x)
            for op in sorted(entry.findall("lrm_rsc_op"), key=_call_id):
                item = {"resource": lid, "agent": agent, "node": uname,
                        "operation": op.get("operation_key") or op.get("operation") or "",
                        "call": op.get("call-id", ""), "rc": op.get("rc-code", ""),
                        "status": op.get("op-status", ""),
                        "last_rc_change": op.get("last-rc-change", ""),
                        "exec_ms": op.get("exec-time", "")}
                data.append(item)
                lines.append(f"{lid}\t({agent}):\t{item['operation']} (node={uname}, "
                             f"call={item['call']}, rc={item['rc']}, exec={item['exec_ms']}ms)"
                             f": {_op_status(item['status'])}")
    return shown(lines or ["no operations recorded"], {"operations": data})


def _call_id(op: ET.Element) -> int:
    try:
        return int(op.get("call-id", "0"))
    except ValueError:
        return 0


def _op_status(status: str) -> str:
    from defib.commands.status import STATUS_TEXT
    from defib.executor.types import ExecStatus

    try:
        return STATUS_TEXT.get(ExecStatus(int(status)), "unknown")
    except ValueError:
        return "unknown"


def refresh(env: CommandEnv, rsc: str | None, node: str | None = None) -> Result:
    """Forget the resource's history everywhere (or on ``node``) whether it failed or not, so
    that the cluster probes it again (crm_resource --refresh)."""
    cleaned = cleanup(env, rsc, node)
    ids = list(cleaned.data.get("cleaned", []))
    where = f" on {node}" if node else ""
    return done("refreshed", f"refreshed {', '.join(ids) or 'nothing'}{where}: the cluster "
                "probes it again", *ids, changed=cleaned.changed, data=cleaned.data)


def why(env: CommandEnv, rsc: str, node: str | None = None) -> Result:
    """Why ``rsc`` runs where it does or does not run (crm_resource --why)."""
    xml = env.read()
    root = ET.fromstring(xml)
    element = cibtree.find_resource(root, rsc)
    if node is not None:
        cibtree.check_node(root, node)
    ws = working_set(env, xml)
    prims = [p for p in ws.all_primitives()
             if p.base_id() in cibtree.primitive_ids(element)]
    reports: list[Report] = []
    running = sorted({n.uname for p in prims for n in p.running_on})
    if running:
        reports.append(info("running", f"Resource {rsc} is running on host"
                            f"{'s' if len(running) > 1 else ''} {', '.join(running)}",
                            rsc, *running))
    else:
        reports.append(info("not-running", f"Resource {rsc} is not running", rsc))
    reports += _meta_reasons(root, element, rsc)
    reports += _node_reasons(root, ws, prims, rsc, node)
    lines = [r.message for r in reports]
    return Result((), "\n".join(lines), False,
                  {"resource": rsc, "running_on": running,
                   "reasons": [r.to_dict() for r in reports]})


def _meta_reasons(root: ET.Element, element: ET.Element, rsc: str) -> list[Report]:
    out = []
    current: ET.Element | None = element
    while current is not None and current.tag in cibtree.RESOURCE_TAGS:
        cid = current.get("id", "")
        meta = {k: v.lower() for k, v in cibtree.all_nv(current, "meta_attributes").items()}
        if meta.get("target-role") == "stopped":
            out.append(info("target-role-stopped", f"Configuration specifies '{cid}' should "
                            "remain stopped", rsc, cid))
        if meta.get("is-managed") in ("false", "no", "off", "0"):
            out.append(info("unmanaged", "Configuration prevents cluster from stopping or "
                            f"starting unmanaged '{cid}'", rsc, cid))
        if meta.get("maintenance") in ("true", "yes", "on", "1"):
            out.append(info("maintenance", f"'{cid}' is in maintenance mode: the cluster "
                            "leaves it as it is", rsc, cid))
        current = cibtree.parent_of(root, current)
    return out


def _node_reasons(root: ET.Element, ws: WorkingSet, prims: list[Prim], rsc: str,
                  only: str | None) -> list[Report]:
    out = []
    counts = fail_counts(root, [p.base_id() for p in prims], None)
    bans = {(el.get("node", ""), el.get("id", "")) for el in root.iter("rsc_location")
            if el.get("rsc") == rsc and el.get("score", "").lstrip("-").upper() == "INFINITY"
            and el.get("score", "").startswith("-")}
    threshold = min((p.migration_threshold for p in prims), default=1_000_000)
    for node in ws.nodes:
        name = node.uname
        if only is not None and name != only:
            continue
        if not node.online:
            out.append(info("node-offline", f"'{rsc}' cannot run on '{name}': the node is "
                            "offline", rsc, name))
        elif node.standby:
            out.append(info("node-standby", f"'{rsc}' cannot run on '{name}': the node is in "
                            "standby", rsc, name))
        for cid in sorted(c for n, c in bans if n == name):
            out.append(info("banned", f"'{rsc}' cannot run on '{name}': location constraint "
                            f"{cid} (-INFINITY)", rsc, name, cid))
        total = sum(_count(v) for v in counts.get(name, {}).values())
        if total and total >= threshold:
            out.append(info("migration-threshold", f"'{rsc}' cannot run on '{name}' due to "
                            f"reaching migration threshold ({total} failures, threshold "
                            f"{threshold})", rsc, name))
    return out


def _count(value: str) -> int:
    if value.upper().lstrip("+") == "INFINITY":
        return 1_000_000
    return int(value) if value.lstrip("-").isdigit() else 0
