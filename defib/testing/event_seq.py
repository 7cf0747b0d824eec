"""Seeded random event sequences on a generated cluster, as a live cluster sees them.

A sequence is a starting CIB (``gen_cib`` plus, often, the shape that hurt users most: an
interleaved clone with a group ordered after it) and a list of events: nodes leaving
(cleanly or not) and joining, standby and maintenance on and off (node and cluster),
clone and group membership changes, failed monitors, cleanups, moves (``cli-prefer``)
and their clearing, time passing. Applying an event changes the CIB the way the DC would
write it (node state, transient attributes, fail counts, configuration).

Everything here is pure: ``sequence(seed)`` always gives the same CIB and events, and
``apply_event(xml, event)`` is a function of its arguments. Running the schedulers and
advancing the cluster to what a transition produces is the caller's business
(``tests/conformance/test_event_sequences.py``).
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from defib.testing.gen_cib import GenSpec, generate_cib

START_TIME = 1_800_000_000  # the clock of the first state (2027-01-15), seconds
EVENT_KINDS = (
    "node-leave", "node-crash", "node-join", "standby-on", "standby-off",
    "maintenance-on", "maintenance-off", "cluster-maintenance-on", "cluster-maintenance-off",
    "clone-max", "group-add", "group-remove", "resource-remove", "monitor-fail", "cleanup",
    "move", "clear", "time",
)


@dataclass(frozen=True)
class Event:
    kind: str
    target: str = ""  # a node or resource id
    arg: str = ""  # a second node, a count ...

    def __str__(self) -> str:
        return " ".join(p for p in (self.kind, self.target, self.arg) if p)


@dataclass(frozen=True)
class Sequence:
    seed: int
    cib: str
    events: tuple[Event, ...]


def live_spec(rng: random.Random) -> GenSpec:
    """Small clusters in a healthy state, the way administration finds them."""
    return GenSpec(nodes=rng.randint(3, 4), resources=rng.randint(2, 7),
                   locations=rng.randint(0, 2), colocations=rng.randint(0, 2),
                   orders=rng.randint(0, 2), clone_rate=0.3,
                   failure_rate=0.0, node_trouble_rate=0.0, orphan_rate=0.0, new_rate=0.0,
                   meta_rate=0.1, stonith=rng.random() < 0.5, cluster_options=False)


def sequence(seed: int, length: int = 6) -> Sequence:
    rng = random.Random(f"events-{seed}")
    text = generate_cib(seed, live_spec(rng))
    root = ET.fromstring(text)
    if rng.random() < 0.6:
        _add_clone_and_dependent_group(root, interleave=rng.random() < 0.8)
    if rng.random() < 0.15:
        _remove_fencing(root)  # stonith enabled and no device: what a new user often has
    events = []
    for _ in range(length):
        events.append(_random_event(rng, root))
    return Sequence(seed, _text(root), tuple(events))


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode") + "\n"


def _section(root: ET.Element, path: str) -> ET.Element:
    found = root.find(path)
    assert found is not None, f"no {path} in the CIB"
    return found


def _add_clone_and_dependent_group(root: ET.Element, interleave: bool) -> None:
    resources = _section(root, "configuration/resources")
    clone = ET.SubElement(resources, "clone", id="base-clone")
    if interleave:
        meta = ET.SubElement(clone, "meta_attributes", id="base-clone-meta")
        ET.SubElement(meta, "nvpair", id="base-clone-interleave", name="interleave",
                      value="true")
    _dummy(clone, "base")
    group = ET.SubElement(resources, "group", id="svc")
    for name in ("svc-ip", "svc-app"):
        _dummy(group, name)
    constraints = _section(root, "configuration/constraints")
    ET.SubElement(constraints, "rsc_order", id="base-then-svc", kind="Mandatory",
                  first="base-clone", then="svc")
    ET.SubElement(constraints, "rsc_colocation", {"id": "svc-with-base", "score": "INFINITY",
                                                  "rsc": "svc", "with-rsc": "base-clone"})


def _dummy(parent: ET.Element, rid: str) -> ET.Element:
    prim = ET.SubElement(parent, "primitive", {"id": rid, "class": "ocf",
                                               "provider": "heartbeat", "type": "Dummy"})
    ops = ET.SubElement(prim, "operations")
    ET.SubElement(ops, "op", id=f"{rid}-monitor-10s", name="monitor", interval="10s")
    return prim


def _remove_fencing(root: ET.Element) -> None:
    resources = _section(root, "configuration/resources")
    for prim in list(resources):
        if prim.get("class") == "stonith":
            resources.remove(prim)


# -- picking events ------------------------------------------------------------------------

def _nodes(root: ET.Element) -> list[str]:
    return [n.get("uname", "") for n in _section(root, "configuration/nodes")]


def _tops(root: ET.Element) -> list[ET.Element]:
    return [r for r in _section(root, "configuration/resources") if r.get("class") != "stonith"]


def _random_event(rng: random.Random, root: ET.Element) -> Event:
    """One event that makes sense for the configuration (the status is not known yet)."""
    nodes = _nodes(root)
    tops = _tops(root)
    kind = rng.choice(EVENT_KINDS)
    node = rng.choice(nodes)
    if kind in ("clone-max",):
        clones = [t for t in tops if t.tag == "clone"]
        if clones:
            return Event(kind, rng.choice(clones).get("id", ""), str(rng.randint(1, len(nodes))))
        kind = "time"
    if kind in ("group-add", "group-remove"):
        groups = [t for t in root.iter("group")]
        if groups:
            return Event(kind, rng.choice(groups).get("id", ""), f"extra{rng.randint(1, 99)}")
        kind = "move"
    if kind == "resource-remove":
        prims = [p.get("id", "") for t in tops for p in t.iter("primitive")]
        return Event(kind, rng.choice(prims)) if prims else Event("time", "", "600")
    if kind in ("monitor-fail", "cleanup"):
        prims = [p.get("id", "") for t in tops for p in t.iter("primitive")]
        if prims:
            return Event(kind, rng.choice(prims), node)
        kind = "time"
    if kind in ("move", "clear"):
        movable = [t.get("id", "") for t in tops if t.tag != "clone"]
        if movable:
            return Event(kind, rng.choice(movable), node)
        kind = "time"
    if kind == "time":
        return Event(kind, "", str(rng.choice((60, 600, 3600))))
    if kind.startswith("cluster-"):
        return Event(kind)
    return Event(kind, node)


Handler = Callable[[ET.Element, "Event", int], None]

# -- applying events -----------------------------------------------------------------------

def apply_event(text: str, event: Event, now: int) -> str:
    """The CIB after ``event``, written as the DC writes it; ``now`` stamps what it records."""
    root = ET.fromstring(text)
    handler = _HANDLERS[event.kind]
    handler(root, event, now)
    _update_quorum_and_dc(root)
    return _text(root)


def _node_state(root: ET.Element, uname: str) -> ET.Element:
    status = _section(root, "status")
    for state in status.findall("node_state"):
        if state.get("uname") == uname:
            return state
    node = next(n for n in _section(root, "configuration/nodes") if n.get("uname") == uname)
    return ET.SubElement(status, "node_state", id=node.get("id", uname), uname=uname)


def _set_state(state: ET.Element, up: bool, expected: str) -> None:
    state.set("in_ccm", "true" if up else "false")
    state.set("crmd", "online" if up else "offline")
    state.set("join", "member" if up else "down")
    state.set("expected", expected)


def _leave(root: ET.Element, event: Event, now: int) -> None:
    """A clean leave: the node asked to shut down (its resources stopped in the transition
    before) and its history is gone."""
    state = _node_state(root, event.target)
    _set_state(state, False, "down")
    for child in list(state):
        state.remove(child)


def _crash(root: ET.Element, event: Event, now: int) -> None:
    """Lost without warning: its history stays (what it ran may still run) until fenced."""
    _set_state(_node_state(root, event.target), False, "member")


def _join(root: ET.Element, event: Event, now: int) -> None:
    """A (re)started node joins: it runs nothing yet, so the DC has no history of it."""
    state = _node_state(root, event.target)
    if state.get("crmd") == "online" and state.get("in_ccm") == "true":
        return
    for child in list(state):
        state.remove(child)
    _set_state(state, True, "member")


def _shutdown_request(root: ET.Element, event: Event, now: int) -> None:
    """node-leave is two steps in a live cluster: first the request to shut down."""
    state = _node_state(root, event.target)
    if state.get("crmd") != "online":
        return
    attrs = _transient(root, event.target)
    attrs["shutdown"] = str(now)
    _write_transient(root, event.target, attrs)


def _transient(root: ET.Element, uname: str) -> dict[str, str]:
    state = _node_state(root, uname)
    attrs = state.find("transient_attributes/instance_attributes")
    values: dict[str, str] = {}
    if attrs is not None:
        for pair in attrs.findall("nvpair"):
            values[pair.get("name", "")] = pair.get("value", "")
    return values


def _write_transient(root: ET.Element, uname: str, values: dict[str, str]) -> None:
    state = _node_state(root, uname)
    node_id = state.get("id", uname)
    old = state.find("transient_attributes")
    if old is not None:
        state.remove(old)
    if not values:
        return
    wrapper = ET.SubElement(state, "transient_attributes", id=node_id)
    attrs = ET.SubElement(wrapper, "instance_attributes", id=f"status-{node_id}")
    for name, value in values.items():
        ET.SubElement(attrs, "nvpair", id=f"status-{node_id}-{name}", name=name, value=value)


def _node_attr(root: ET.Element, uname: str, name: str, value: str | None) -> None:
    node = next(n for n in _section(root, "configuration/nodes") if n.get("uname") == uname)
    attrs = node.find("instance_attributes")
    if attrs is None:
        if value is None:
            return
        attrs = ET.SubElement(node, "instance_attributes", id=f"nodes-{node.get('id')}")
    for pair in attrs.findall("nvpair"):
        if pair.get("name") == name:
            attrs.remove(pair)
    if value is not None:
        ET.SubElement(attrs, "nvpair", id=f"nodes-{node.get('id')}-{name}", name=name,
                      value=value)


def _cluster_option(root: ET.Element, name: str, value: str | None) -> None:
    config = _section(root, "configuration/crm_config")
    props = config.find("cluster_property_set")
    if props is None:
        props = ET.SubElement(config, "cluster_property_set", id="cib-bootstrap-options")
    for pair in props.findall("nvpair"):
        if pair.get("name") == name:
            props.remove(pair)
    if value is not None:
        ET.SubElement(props, "nvpair", id=f"opt-{name}", name=name, value=value)


def _meta(rsc: ET.Element, name: str, value: str | None) -> None:
    meta = rsc.find("meta_attributes")
    if meta is None:
        meta = ET.SubElement(rsc, "meta_attributes", id=f"{rsc.get('id')}-meta_attributes")
    for pair in meta.findall("nvpair"):
        if pair.get("name") == name:
            meta.remove(pair)
    if value is not None:
        ET.SubElement(meta, "nvpair", id=f"{rsc.get('id')}-meta-{name}", name=name, value=value)


def _find_rsc(root: ET.Element, rid: str) -> tuple[ET.Element, ET.Element] | None:
    """The element with this id in the resources section, and its parent."""
    resources = _section(root, "configuration/resources")
    for parent in resources.iter():
        for child in parent:
            if child.get("id") == rid and child.tag in ("primitive", "group", "clone"):
                return child, parent
    return None


def _clone_max(root: ET.Element, event: Event, now: int) -> None:
    found = _find_rsc(root, event.target)
    if found is not None:
        _meta(found[0], "clone-max", event.arg)


def _group_add(root: ET.Element, event: Event, now: int) -> None:
    found = _find_rsc(root, event.target)
    if found is not None and _find_rsc(root, event.arg) is None:
        _dummy(found[0], event.arg)


def _group_remove(root: ET.Element, event: Event, now: int) -> None:
    """The group's last member leaves it (and the configuration): an orphan now."""
    found = _find_rsc(root, event.target)
    if found is None:
        return
    members = found[0].findall("primitive")
    if len(members) > 1:
        found[0].remove(members[-1])


def _resource_remove(root: ET.Element, event: Event, now: int) -> None:
    """``configure delete``: the resource (a clone's or a lone member's whole collective)
    and its constraints go; what still runs is an orphan now."""
    found = _find_rsc(root, event.target)
    if found is None:
        return
    rsc, parent = found
    if parent.tag == "clone" or (parent.tag == "group" and len(parent.findall("primitive")) == 1):
        outer = _find_rsc(root, parent.get("id", ""))
        if outer is None:
            return
        rsc, parent = outer
        if parent.tag == "clone":  # a cloned group
            outer = _find_rsc(root, parent.get("id", ""))
            if outer is None:
                return
            rsc, parent = outer
    parent.remove(rsc)
    gone = {e.get("id") for e in rsc.iter()}
    constraints = _section(root, "configuration/constraints")
    for con in list(constraints):
        refs = {con.get(k) for k in ("rsc", "with-rsc", "first", "then")}
        refs |= {r.get("id") for r in con.iter("resource_ref")}
        if refs & gone:
            constraints.remove(con)


def _history(root: ET.Element, uname: str, rid: str) -> ET.Element | None:
    """The node's history entry of a resource (an anonymous clone's under its own name)."""
    state = _node_state(root, uname)
    for lrm in state.iter("lrm_resource"):
        if lrm.get("id", "").split(":")[0] == rid:
            return lrm
    return None


def _active(lrm: ET.Element) -> bool:
    ops = sorted((o for o in lrm.findall("lrm_rsc_op") if o.get("interval", "0") == "0"),
                 key=lambda o: int(o.get("call-id", "0")))
    if not ops:
        return False
    last = ops[-1]
    if last.get("operation") == "monitor":
        return last.get("rc-code") in ("0", "8")
    return last.get("operation") in ("start", "promote", "migrate_from") and last.get(
        "rc-code") == "0"


def _monitor_fail(root: ET.Element, event: Event, now: int) -> None:
    """The resource's recurring monitor finds it stopped, recorded as the controller does."""
    lrm = _history(root, event.arg, event.target)
    if lrm is None or not _active(lrm):
        return
    mons = [o for o in lrm.findall("lrm_rsc_op")
            if o.get("operation") == "monitor" and o.get("interval", "0") != "0"]
    if not mons:
        return
    mon = mons[0]
    interval = mon.get("interval", "0")
    call = 1 + max(int(o.get("call-id", "0")) for o in lrm.findall("lrm_rsc_op"))
    for op in (mon, _copy_op(lrm, mon, f"{lrm.get('id')}_last_failure_0")):
        op.set("rc-code", "7")
        op.set("call-id", str(call))
        op.set("last-rc-change", str(now))
        key = op.get("transition-key", "0:0:0:x")
        op.set("transition-magic", f"0:7;{key}")
    attrs = _transient(root, event.arg)
    name = f"{lrm.get('id')}#monitor_{interval}"
    count = attrs.get(f"fail-count-{name}", "0")
    attrs[f"fail-count-{name}"] = str(int(count) + 1) if count.isdigit() else count
    attrs[f"last-failure-{name}"] = str(now)
    _write_transient(root, event.arg, attrs)


def _copy_op(lrm: ET.Element, op: ET.Element, op_id: str) -> ET.Element:
    for old in lrm.findall("lrm_rsc_op"):
        if old.get("id") == op_id:
            lrm.remove(old)
    copy = ET.SubElement(lrm, "lrm_rsc_op", dict(op.attrib))
    copy.set("id", op_id)
    return copy


def _cleanup(root: ET.Element, event: Event, now: int) -> None:
    """``crm_resource --cleanup``: fail counts and history gone; the resource is re-probed."""
    for state in _section(root, "status").findall("node_state"):
        uname = state.get("uname", "")
        lrm = _history(root, uname, event.target)
        if lrm is None:
            continue
        failed = any(o.get("id", "").endswith("_last_failure_0") for o in lrm.findall(
            "lrm_rsc_op"))
        if failed:
            parent = state.find("lrm/lrm_resources")
            if parent is not None:
                parent.remove(lrm)
        attrs = _transient(root, uname)
        for name in [n for n in attrs if n.startswith((f"fail-count-{lrm.get('id')}#",
                                                       f"last-failure-{lrm.get('id')}#"))]:
            del attrs[name]
        _write_transient(root, uname, attrs)


def _move(root: ET.Element, event: Event, now: int) -> None:
    _clear(root, event, now)
    if _find_rsc(root, event.target) is None:
        return  # deleted by an earlier event: the CLI would refuse
    constraints = _section(root, "configuration/constraints")
    ET.SubElement(constraints, "rsc_location", id=f"cli-prefer-{event.target}",
                  rsc=event.target, node=event.arg, score="INFINITY")


def _clear(root: ET.Element, event: Event, now: int) -> None:
    constraints = _section(root, "configuration/constraints")
    for con in list(constraints):
        if con.get("id") == f"cli-prefer-{event.target}":
            constraints.remove(con)


def _time(root: ET.Element, event: Event, now: int) -> None:
    """Only the clock moves (the caller adds the seconds): failures may expire."""


def _update_quorum_and_dc(root: ET.Element) -> None:
    states = _section(root, "status").findall("node_state")
    up = [s for s in states if s.get("crmd") == "online" and s.get("in_ccm") == "true"]
    total = len(_nodes(root))
    root.set("have-quorum", "1" if 2 * len(up) > total else "0")
    if up and root.get("dc-uuid") not in {s.get("id") for s in up}:
        root.set("dc-uuid", sorted(s.get("id", "") for s in up)[0])


def _flag(name: str, value: str | None, node_level: bool) -> Handler:
    def handler(root: ET.Element, event: Event, now: int) -> None:
        if node_level:
            _node_attr(root, event.target, name, value)
        else:
            _cluster_option(root, name, value)
    return handler


_HANDLERS: dict[str, Handler] = {
    "node-leave": _shutdown_request,
    "node-gone": _leave,
    "node-crash": _crash,
    "node-join": _join,
    "standby-on": _flag("standby", "on", True),
    "standby-off": _flag("standby", None, True),
    "maintenance-on": _flag("maintenance", "true", True),
    "maintenance-off": _flag("maintenance", None, True),
    "cluster-maintenance-on": _flag("maintenance-mode", "true", False),
    "cluster-maintenance-off": _flag("maintenance-mode", None, False),
    "clone-max": _clone_max,
    "group-add": _group_add,
    "group-remove": _group_remove,
    "resource-remove": _resource_remove,
    "monitor-fail": _monitor_fail,
    "cleanup": _cleanup,
    "move": _move,
    "clear": _clear,
    "time": _time,
}


def follow_up(event: Event, text: str) -> Event | None:
    """What a live cluster does next on its own once a transition has run: a node that
    asked to shut down leaves when it runs nothing more."""
    if event.kind != "node-leave":
        return None
    root = ET.fromstring(text)
    state = _node_state(root, event.target)
    if state.get("crmd") != "online":
        return None
    if any(_active(lrm) for lrm in state.iter("lrm_resource")):
        return None
    return Event("node-gone", event.target)


def settle_status(text: str) -> str:
    """The revised status as a live DC keeps it: a cancelled recurring operation is gone
    from the history (``crm_simulate`` records the cancel itself as an operation)."""
    root = ET.fromstring(text)
    for lrm in root.iter("lrm_resource"):
        ops = lrm.findall("lrm_rsc_op")
        cancelled = {o.get("interval") for o in ops if o.get("operation") == "cancel"}
        for op in ops:
            if op.get("operation") == "cancel" or (
                    op.get("interval") in cancelled and op.get("interval") != "0"
                    and op.get("operation") == "monitor"
                    and not op.get("id", "").endswith("_last_failure_0")):
                lrm.remove(op)
    return _text(root)
