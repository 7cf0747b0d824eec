"""What-if injections: crm_simulate 2.1.5's synthetic cluster events.

Before scheduling, the events are written into a copy of the CIB's XML exactly as
crm_simulate writes them (node state changes, ticket states, quorum, watchdog, operation
results with their fail counts), so that the scheduler reads them like any other status.
Operations made to fail (``--op-fail``) act during the simulated execution instead: the first
matching action fails with the given code, the transition stops there (as Pacemaker's does
after a failed action) and the failure is recorded with its fail count.

Everything here is pure: the time a failure is stamped with is passed in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defib.cib.parse import parse_cib, xml_root
from defib.graph.model import GraphAction
from defib.model.cib import Cib
from defib.model.nvsets import NvSet
from defib.model.status import NodeState
from defib.simulate.engine import SimulatedHandlers, Simulation, simulate
from defib.simulate.inject import history_entry, target_rc

# The fake transition UUID crm_simulate writes into the results it injects.
_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
# Pseudo actions that end a collective resource's step (running, stopped ...).
_CLOSING = frozenset({"running", "stopped", "promoted", "demoted"})
_SPEC = re.compile(r"^([^@]+)@([^=]+)=(-?\d+)")


@dataclass(frozen=True)
class OpSpec:
    """``${resource}_${task}_${interval_in_ms}@${node}=${rc}``."""

    text: str
    resource: str
    task: str
    interval_ms: int
    node: str
    rc: int

    @classmethod
    def parse(cls, text: str) -> OpSpec:
        match = _SPEC.match(text)
        if match is None:
            raise ValueError(f"Invalid operation spec: {text}.  Only found "
                             f"{_fields_found(text)} fields")
        key, node, rc = match.groups()
        resource, task, interval = _split_key(key)
        return cls(text, resource, task, interval, node, int(rc))


def _fields_found(text: str) -> int:
    key, at, rest = text.partition("@")
    if not key or not at:
        return 1 if key else 0
    node, eq, rc = rest.partition("=")
    if not node or not eq:
        return 1 if not node else 2
    return 2 if not re.match(r"-?\d", rc) else 3


def _split_key(key: str) -> tuple[str, str, int]:
    """``rsc_task_interval`` as Pacemaker's parse_op_key reads it (``migrate_to`` and
    ``migrate_from`` hold an underscore of their own)."""
    for task in ("migrate_to", "migrate_from"):
        match = re.match(rf"^(.+)_{task}_(\d+)$", key)
        if match:
            return match.group(1), task, int(match.group(2))
    head, _, interval = key.rpartition("_")
    rsc, _, task = head.rpartition("_")
    if not interval.isdigit() or not rsc or not task:
        raise ValueError(f"Invalid operation key: {key}")
    return rsc, task, int(interval)


@dataclass
class Injections:
    """The synthetic events of one simulation, in crm_simulate's option terms."""

    node_up: list[str] = field(default_factory=list)
    node_down: list[str] = field(default_factory=list)
    node_fail: list[str] = field(default_factory=list)
    op_inject: list[str] = field(default_factory=list)
    op_fail: list[str] = field(default_factory=list)
    ticket_grant: list[str] = field(default_factory=list)
    ticket_revoke: list[str] = field(default_factory=list)
    ticket_standby: list[str] = field(default_factory=list)
    ticket_activate: list[str] = field(default_factory=list)
    quorum: str | None = None
    watchdog: str | None = None

    def modifies_input(self) -> bool:
        """True when the CIB changes before scheduling (``op_fail`` acts only later).

        crm_simulate 2.1.5 applies ``--quorum`` only together with another event (it is
        missing from its list of what makes a modification): the same here, with a warning.
        """
        return bool(self.node_up or self.node_down or self.node_fail or self.op_inject
                    or self.ticket_grant or self.ticket_revoke or self.ticket_standby
                    or self.ticket_activate or self.watchdog is not None)


@dataclass
class Injected:
    lines: list[str]  # what crm_simulate prints under "Performing Requested Modifications"
    errors: list[str]  # what it prints on standard error (and skips)


def inject(root: ET.Element, injections: Injections, now_ts: int) -> Injected:
    """Write ``injections`` into the CIB ``root`` (in place), in crm_simulate's order."""
    out = Injected(["Performing Requested Modifications:"], [])
    if injections.quorum is not None:
        out.lines.append(f"  * Setting quorum: {injections.quorum}")
        root.set("have-quorum", injections.quorum)
    if injections.watchdog is not None:
        out.lines.append(f"  * Setting watchdog: {injections.watchdog}")
        _set_cluster_option(root, "have-watchdog", injections.watchdog)
    for node in injections.node_up:
        out.lines.append(f"  * Bringing node {node} online")
        _node_up_down(node_state(root, node), up=True)
    for node in injections.node_down:
        out.lines.append(f"  * Taking node {node} offline")
        state = node_state(root, node)
        _node_up_down(state, up=False)
        for child in state.findall("lrm") + state.findall("transient_attributes"):
            state.remove(child)
    for node in injections.node_fail:
        out.lines.append(f"  * Failing node {node}")
        state = node_state(root, node)
        _node_up_down(state, up=True)
        state.set("in_ccm", "false")
    for verb, attr, value, tickets in (
            ("Granting ticket {}", "granted", "true", injections.ticket_grant),
            ("Revoking ticket {}", "granted", "false", injections.ticket_revoke),
            ("Making ticket {} standby", "standby", "true", injections.ticket_standby),
            ("Activating ticket {}", "standby", "false", injections.ticket_activate)):
        for ticket in tickets:
            out.lines.append("  * " + verb.format(ticket))
            _ticket_state(root, ticket).set(attr, value)
    for text in injections.op_inject:
        out.lines.append(f"  * Injecting {text} into the configuration")
        try:
            spec = OpSpec.parse(text)
        except ValueError as exc:
            out.errors.append(str(exc))
            continue
        _inject_op(root, spec, now_ts, out)
    return out


# -- the status section, as crm_simulate edits it -----------------------------------------------

def _child(parent: ET.Element, tag: str, attrs: dict[str, str] | None = None) -> ET.Element:
    found = parent.find(tag)
    return found if found is not None else ET.SubElement(parent, tag, attrs or {})


def _status(root: ET.Element) -> ET.Element:
    return _child(root, "status")


def node_state(root: ET.Element, uname: str) -> ET.Element:
    """The node's ``node_state`` (by name, else by the id the nodes section gives the name),
    created when there is none."""
    status = _status(root)
    for state in status.findall("node_state"):
        if state.get("uname") == uname:
            return state
    nodes = _child(_child(root, "configuration"), "nodes")
    entry = next((n for n in nodes.findall("node") if n.get("uname") == uname), None)
    if entry is None:  # crm_simulate adds a node it does not know, named as its id
        entry = ET.SubElement(nodes, "node", {"id": uname, "uname": uname})
    node_id = entry.get("id") or uname
    for state in status.findall("node_state"):
        if state.get("id") == node_id:
            if state.get("uname") is None:
                state.set("uname", uname)
            return state
    return ET.SubElement(status, "node_state", {"id": node_id, "uname": uname})


def _node_up_down(state: ET.Element, up: bool) -> None:
    values = (("true", "online", "member", "member") if up
              else ("false", "offline", "down", "down"))
    for name, value in zip(("in_ccm", "crmd", "join", "expected"), values, strict=True):
        state.set(name, value)
    state.set("crm-debug-origin", "crm_simulate")


def _ticket_state(root: ET.Element, ticket: str) -> ET.Element:
    tickets = _child(_status(root), "tickets")
    for state in tickets.findall("ticket_state"):
        if state.get("id") == ticket:
            return state
    return ET.SubElement(tickets, "ticket_state", {"id": ticket})


def _set_cluster_option(root: ET.Element, name: str, value: str) -> None:
    """The option's existing nvpair, else a new one in ``cib-bootstrap-options``."""
    conf = _child(root, "configuration")
    crm_config = _child(conf, "crm_config")
    for nvpair in crm_config.iter("nvpair"):
        if nvpair.get("name") == name:
            nvpair.set("value", value)
            return
    sets = [s for s in crm_config.findall("cluster_property_set")
            if s.get("id") == "cib-bootstrap-options"]
    target = sets[0] if sets else ET.SubElement(crm_config, "cluster_property_set",
                                                {"id": "cib-bootstrap-options"})
    ET.SubElement(target, "nvpair", {"id": f"cib-bootstrap-options-{name}", "name": name,
                                     "value": value})


def _resource_agent(root: ET.Element, rsc: str) -> dict[str, str] | None:
    """class/provider/type of the configured primitive ``rsc`` (a clone instance name
    ``rsc:N`` is its primitive's), from its template when it uses one."""
    base = rsc.split(":", 1)[0]
    resources = root.find("configuration/resources")
    if resources is None:
        return None
    templates = {t.get("id"): t for t in resources.iter("template")}
    for prim in resources.iter("primitive"):
        if prim.get("id") in (rsc, base):
            source = templates.get(prim.get("template"), prim)
            agent = {k: v for k in ("class", "provider", "type")
                     if (v := prim.get(k) or source.get(k)) is not None}
            return agent
    return None


def _inject_op(root: ET.Element, spec: OpSpec, now_ts: int, out: Injected) -> None:
    agent = _resource_agent(root, spec.resource)
    if agent is None:
        out.errors.append(f"Invalid resource name: {spec.resource}")
        return
    state = node_state(root, spec.node)
    lrm = _child(state, "lrm", {"id": state.get("id", spec.node)})
    resources = _child(lrm, "lrm_resources")
    entry = next((e for e in resources.findall("lrm_resource") if e.get("id") == spec.resource),
                 None)
    if entry is None:
        entry = ET.SubElement(resources, "lrm_resource", {"id": spec.resource, **agent})
    # A call id above every recorded one, so that the injected result is the newest.
    call_id = 1 + max((to_int(op.get("call-id")) for op in entry.findall("lrm_rsc_op")),
                      default=0)
    add_op_result(entry, spec.resource, spec.task, spec.interval_ms, spec.rc, 0, call_id,
                  now_ts, "Simulated action result", spec.node)
    if counts_as_failure(spec.rc, spec.interval_ms):
        out.lines += inject_failcount(state, spec.resource, spec.task, spec.interval_ms,
                                      now_ts)


def to_int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def counts_as_failure(rc: int, interval_ms: int) -> bool:
    # A successful result is no failure, nor is "not running" found by a probe.
    return rc != 0 and not (rc == 7 and interval_ms == 0)


def add_op_result(entry: ET.Element, rsc: str, task: str, interval_ms: int, rc: int,
                  expected_rc: int, call_id: int, now_ts: int, reason: str,
                  node: str) -> None:
    """Record one result in a ``lrm_resource`` as Pacemaker's history writer names it: a
    failure as ``last_failure_0`` (and, for a one-shot operation, also as ``last_0``)."""
    key = f"{call_id}:-1:{expected_rc}:{_UUID}"
    op_key = f"{rsc}_{task}_{interval_ms}"
    if rc != expected_rc:
        ids = [f"{rsc}_last_failure_0"] + ([f"{rsc}_last_0"] if interval_ms == 0 else [])
    else:
        ids = [op_key if interval_ms else f"{rsc}_last_0"]
    for op_id in ids:
        attrs = {
            "id": op_id, "operation_key": op_key, "operation": task,
            "crm-debug-origin": "crm_simulate", "transition-key": key,
            "transition-magic": f"0:{rc};{key}", "exit-reason": reason,
            "call-id": str(call_id), "rc-code": str(rc), "op-status": "0",
            "interval": str(interval_ms), "last-rc-change": str(now_ts), "exec-time": "0",
            "queue-time": "0", "on_node": node,
        }
        old = next((o for o in entry.findall("lrm_rsc_op") if o.get("id") == op_id), None)
        if old is None:
            ET.SubElement(entry, "lrm_rsc_op", attrs)
        else:
            # The CIB merges an update into the record it replaces: what the new result does
            # not say (the old op-digest) stays, as it does in crm_simulate's CIB.
            for name, value in attrs.items():
                old.set(name, value)


def inject_failcount(state: ET.Element, rsc: str, task: str, interval_ms: int,
                     now_ts: int) -> list[str]:
    """Count one failure in the node's transient attributes; the lines crm_simulate prints."""
    node_id = state.get("id", "")
    transient = state.find("transient_attributes")
    if transient is None:
        transient = ET.Element("transient_attributes", {"id": node_id})
        state.insert(0, transient)
    nvset = _child(transient, "instance_attributes", {"id": node_id})
    lines = []
    for name, value in ((f"fail-count-{rsc}#{task}_{interval_ms}", "value++"),
                        (f"last-failure-{rsc}#{task}_{interval_ms}", str(now_ts))):
        lines.append(f"  * Injecting attribute {name}={value} into /node_state '{node_id}'")
        nvpair = next((nv for nv in nvset.findall("nvpair") if nv.get("name") == name), None)
        if nvpair is None:
            nvpair = ET.SubElement(nvset, "nvpair", {
                "id": f"{nvset.get('id')}-{name.replace('#', '.')}", "name": name})
        if value == "value++":
            value = _increment(nvpair.get("value"))
        nvpair.set("value", value)
    return lines


def _increment(text: str | None) -> str:
    if text is not None and text.strip().upper() in ("INFINITY", "+INFINITY"):
        return "INFINITY"
    return str(min(to_int(text) + 1, 1_000_000))


# -- operations failing during the simulated execution --------------------------------------

class FailingHandlers(SimulatedHandlers):
    """Every action succeeds, except those ``--op-fail`` names: they fail with its code."""

    def __init__(self, specs: list[str], now_ts: int, collective: frozenset[str] = frozenset(),
                 cib: Cib | None = None) -> None:
        super().__init__()
        self.specs = specs
        # The status the transition starts from: an anonymous clone instance is named as
        # its history on the node names it (as crm_simulate prints and matches it).
        self.states = {s.uname: s for s in cib.node_states} if cib is not None else {}
        self.now_ts = now_ts
        self.collective = collective
        self.after_abort = self._fires_after_failure
        self.failures: list[tuple[GraphAction, str, int]] = []  # action, name matched, rc

    def result_of(self, action: GraphAction) -> int:
        failure = self._match(action)
        if failure is None:
            return target_rc(action)
        name, rc = failure
        self.failures.append((action, name, rc))
        self.rc_overrides[action.id] = rc
        self.notes[action.id] = [f"Pretending action {action.id} failed with rc={rc}"]
        if counts_as_failure(rc, action.interval_ms):
            node_id = action.node_id or action.node_uname or ""
            self.notes[action.id] += [
                f"  * Injecting attribute {attr}-{name}#{action.operation}_"
                f"{action.interval_ms}={value} into /node_state '{node_id}'"
                for attr, value in (("fail-count", "value++"),
                                    ("last-failure", str(self.now_ts)))]
        return rc

    def _fires_after_failure(self, action: GraphAction) -> bool:
        """Whether Pacemaker gives the action's synapse the abort's priority (INFINITY):
        notifications, and the pseudo actions that close a clone's or bundle's steps."""
        if action.operation in ("notify", "notified"):
            return True
        if action.kind != "pseudo_event" or action.operation not in _CLOSING:
            return False
        owner = action.operation_key.rsplit("_", 2)[0]
        return owner in self.collective

    def _match(self, action: GraphAction) -> tuple[str, int] | None:
        if action.kind != "rsc_op" or not action.rsc_id or not action.node_uname:
            return None
        entry = history_entry(self.states.get(action.node_uname), action)
        names = [n for n in (entry.id if entry else None, action.rsc_long_id, action.rsc_id)
                 if n]
        for spec in self.specs:
            for name in names:
                key = f"{name}_{action.operation}_{action.interval_ms}@{action.node_uname}="
                rc_text = spec[len(key):]
                if spec.lower().startswith(key.lower()) and re.match(r"^-?\d+$", rc_text):
                    return name, int(rc_text)
        return None

    def revise(self, cib: Cib) -> Cib:
        """The fail counts of the failures, in the revised CIB's status."""
        states = list(cib.node_states)
        for action, name, rc in self.failures:
            if not counts_as_failure(rc, action.interval_ms):
                continue
            for n, state in enumerate(states):
                if state.uname == action.node_uname:
                    states[n] = _count_failure(state, name, action, self.now_ts)
        return dataclasses.replace(cib, node_states=tuple(states))


def _count_failure(state: NodeState, rsc: str, action: GraphAction, now_ts: int) -> NodeState:
    suffix = f"{rsc}#{action.operation}_{action.interval_ms}"
    sets = list(state.transient_attributes) or [NvSet(id=state.id)]
    pairs = dict(sets[0].pairs)
    pairs[f"fail-count-{suffix}"] = _increment(pairs.get(f"fail-count-{suffix}"))
    pairs[f"last-failure-{suffix}"] = str(now_ts)
    sets[0] = dataclasses.replace(sets[0], pairs=tuple(pairs.items()))
    return dataclasses.replace(state, transient_attributes=tuple(sets))


# -- one what-if run, as crm_simulate prints it -------------------------------------------------

@dataclass
class WhatIf:
    simulation: Simulation
    lines: list[str]  # standard output
    errors: list[str]  # standard error (injections that were skipped)
    input_xml: str | bytes  # the CIB scheduled (after the injections)
    failing: FailingHandlers | None = None  # what --op-fail made fail

    def output_xml(self, now_ts: int) -> str:
        """The CIB after the simulated transition (crm_simulate -O)."""
        from defib.simulate.saveoutput import revised_xml

        failing = self.failing
        return revised_xml(self.input_xml, self.simulation,
                           failing.rc_overrides if failing else {},
                           {a.id: name for a, name, _ in failing.failures} if failing else {},
                           now_ts)


def run_what_if(text: str | bytes, injections: Injections, now: dt.datetime | None,
                clock_now: dt.datetime, now_ts: int, run: bool = False, execute: bool = True,
                scores: bool = False, quiet: bool = False, date_text: str | None = None
                ) -> WhatIf:
    """crm_simulate's sequence: the current status, the requested modifications, then the
    scheduler's answer for the modified CIB (and with ``execute`` its simulated execution)."""
    original = parse_cib(text)
    cib, head, mods, errors, input_xml = original, [], [], [], text
    if injections.quorum is not None and not injections.modifies_input():
        errors.append("warning: as with crm_simulate 2.1.5, --quorum alone changes nothing; "
                      "give it with another event (e.g. --watchdog 0) to apply it")
    if injections.modifies_input():
        before = simulate(original, now, execute=False, default_now=clock_now)
        head = before.preamble() + before.status_lines()
        root = xml_root(text)
        injected = inject(root, injections, now_ts)
        mods, errors = injected.lines, injected.errors
        input_xml = ET.tostring(root, encoding="unicode")
        cib = parse_cib(input_xml)
    handlers = None
    if injections.op_fail:
        handlers = FailingHandlers(injections.op_fail, now_ts, collective_ids(xml_root(
            input_xml)), cib)
    # Operations to fail imply executing the transition, as in crm_simulate.
    execute = execute or bool(injections.op_fail)
    sim = simulate(cib, now, execute=run or execute, default_now=clock_now, handlers=handlers)
    if quiet:
        return WhatIf(sim, sim.score_lines() if scores else [], errors, input_xml, handlers)
    own_head = sim.preamble() + sim.status_lines()
    if run or execute:
        body = sim.lines(scores)[len(own_head):]
        if not execute:
            body = body[:body.index("Executing Cluster Transition:")]
            while body and not body[-1]:
                body.pop()
    else:
        body = ["", *sim.score_lines()] if scores else []
    if date_text is not None:
        # crm_simulate says so each time it reads a CIB at the given time: first, after the
        # modifications, and before the revised status.
        setting = f"Setting effective cluster time: {date_text}"
        own_head, head, mods = [setting, *own_head], [setting, *head], [*mods, setting]
        if "Revised Cluster Status:" in body:
            at = body.index("Revised Cluster Status:")
            body = body[:at - 1] + [setting] + body[at - 1:]
    if not injections.modifies_input():
        return WhatIf(sim, own_head + body, errors, input_xml, handlers)
    if sim.original_date is not None:  # crm_simulate reads the modified CIB's date again
        mods = mods + [f"Using the original execution date of: "
                       f"{sim.original_date:%Y-%m-%d %H:%M:%S}Z"]
    return WhatIf(sim, head + [""] + mods + body, errors, input_xml, handlers)


def collective_ids(root: ET.Element) -> frozenset[str]:
    """Ids of clones and bundles (and of clones inside bundles' replicas, by prefix)."""
    return frozenset(e.get("id", "") for tag in ("clone", "master", "bundle")
                     for e in root.iter(tag))
