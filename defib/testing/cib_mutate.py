"""Mutated CIBs for fuzzing: what a careless administrator, a buggy tool or an attacker writes.

``mutate(xml, rng, count)`` applies ``count`` random edits to a CIB document: attribute
values replaced by hostile numbers, dates, durations and ids; elements removed, emptied,
duplicated or moved; ids made to collide or to dangle. The result is always well-formed XML
(the XML parser's own errors are not what is being tested) but is otherwise anything.
``run_one`` feeds one document through everything that reads a CIB for the scheduler
(parse, unpack, schedule, graph, simulated execution, every output) and reports how it went.
"""

from __future__ import annotations

import datetime as dt
import random
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

NUMBERS = [
    "inf", "-inf", "+inf", "nan", "-nan", "infinity", "INFINITY", "-INFINITY", "+INFINITY",
    "1e999", "-1e999", "1.5e999", "1.e308", "9" * 40, "-" + "9" * 40, "18446744073709551616",
    "2147483648", "-2147483649", "4294967296", "0", "-0", "-1", "1.5", "-0.5", "0x1F", "1_000",
    "", " ", "abc", "12abc", "١٢", "red", "yellow", "green", "+", "-", ".", "1e", "NaN.0",
]
DURATIONS = [
    "P", "PT", "P-1D", "PT-5S", "P99999999999Y", "P1Y2M3W4DT5H6M7S", "PT9999999999999S",
    "P0D", "10s", "0s", "-10s", "99999999999h", "1.5min", "10 parsecs", "0ms", "3600000000000",
]
DATES = [
    "2020-02-30", "2020-13-01", "9999-12-31T23:59:59Z", "0000-01-01", "10000-01-01",
    "1970-01-01 00:00:00", "2019-W53-8", "2019-366", "2023-01-01T25:61:61", "garbage",
    "2020-01-01T00:00:00+99:00", "-2020-01-01", "2020-01-01/P1D", "2020-01-01/2019-01-01",
    "99999999999999", "-99999999999999",
]
WORDS = [
    "Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave", "true", "false",
    "yes", "no", "ignore", "block", "stop", "restart", "fence", "standby", "demote",
    "Mandatory", "Optional", "Serialize", "start", "promote", "monitor", "never", "exclusive",
    "member", "remote", "ping", "#uname", "#id", "<>", "a b", "x" * 300,
]
# Attributes whose values are numbers, times or dates somewhere in the CIB.
NUMERIC_NAMES = {
    "score", "interval", "timeout", "start-delay", "call-id", "rc-code", "op-status",
    "last-rc-change", "last-run", "exec-time", "queue-time", "index", "epoch", "admin_epoch",
    "num_updates", "execution-date", "last-granted", "value", "weight", "migration-threshold",
    "failure-timeout", "resource-stickiness", "priority", "clone-max", "clone-node-max",
    "promoted-max", "promoted-node-max", "master-max", "master-node-max", "replicas",
    "replicas-per-host", "start", "end", "years", "months", "weeks", "days", "hours",
    "minutes", "seconds", "yeardays", "weekdays", "monthdays", "weekyears", "moon",
    "stonith-timeout", "cluster-recheck-interval", "shutdown-lock-limit", "node-health-base",
    "placement-strategy", "batch-limit", "port", "internal-port", "range",
}


def _value(rng: random.Random, name: str) -> str:
    pools = [NUMBERS, DURATIONS, DATES, WORDS]
    weights = [4, 2, 2, 1] if name in NUMERIC_NAMES else [2, 1, 1, 2]
    return rng.choice(rng.choices(pools, weights)[0])


def _ids(root: ET.Element) -> list[str]:
    return [e.get("id", "") for e in root.iter() if e.get("id")]


def _parent_map(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def _set_attribute(root: ET.Element, rng: random.Random) -> None:
    elements = [e for e in root.iter() if e.attrib]
    element = rng.choice(elements)
    name = rng.choice(sorted(element.attrib))
    element.set(name, _value(rng, name))


def _set_nvpair(root: ET.Element, rng: random.Random) -> None:
    pairs = root.findall(".//nvpair")
    if not pairs:
        return _set_attribute(root, rng)
    pair = rng.choice(pairs)
    pair.set("value", _value(rng, pair.get("name", "")))
    return None


def _add_nvpair(root: ET.Element, rng: random.Random) -> None:
    sets = root.findall(".//meta_attributes") + root.findall(".//instance_attributes")
    if not sets:
        return _set_attribute(root, rng)
    name = rng.choice(sorted(NUMERIC_NAMES | {"target-role", "is-managed", "requires",
                                              "on-fail", "multiple-active", "globally-unique",
                                              "interleave", "ordered", "promotable"}))
    value = rng.choice([_value(rng, name), *(WORDS[:21] if rng.random() < 0.3 else [])])
    ET.SubElement(rng.choice(sets), "nvpair", id=f"fuzz-{rng.randrange(10**6)}", name=name,
                  value=value)
    return None


def _remove_element(root: ET.Element, rng: random.Random) -> None:
    parents = _parent_map(root)
    victim = rng.choice(list(parents))
    parents[victim].remove(victim)


def _empty_element(root: ET.Element, rng: random.Random) -> None:
    candidates = [e for e in root.iter() if len(e)]
    target = rng.choice(candidates)
    for child in list(target):
        target.remove(child)


def _duplicate_element(root: ET.Element, rng: random.Random) -> None:
    parents = _parent_map(root)
    victim = rng.choice(list(parents))
    parent = parents[victim]
    parent.insert(list(parent).index(victim) + 1, ET.fromstring(ET.tostring(victim)))


def _move_element(root: ET.Element, rng: random.Random) -> None:
    parents = _parent_map(root)
    victim = rng.choice(list(parents))
    target = rng.choice([e for e in root.iter() if e is not victim])
    if victim in target.iter():  # target inside the victim
        return
    if any(p is victim for p in _ancestors(parents, target)):
        return
    parents[victim].remove(victim)
    target.append(victim)


def _ancestors(parents: dict[ET.Element, ET.Element], e: ET.Element) -> list[ET.Element]:
    out = []
    while e in parents:
        e = parents[e]
        out.append(e)
    return out


def _collide_id(root: ET.Element, rng: random.Random) -> None:
    ids = _ids(root)
    elements = [e for e in root.iter() if e.get("id")]
    if len(ids) < 2:
        return
    rng.choice(elements).set("id", rng.choice(ids))


def _dangle_reference(root: ET.Element, rng: random.Random) -> None:
    refs = ["rsc", "with-rsc", "first", "then", "node", "id-ref", "template", "container",
            "on_node", "uname", "target", "devices", "rsc-pattern", "ticket"]
    elements = [(e, a) for e in root.iter() for a in refs if a in e.attrib]
    if not elements:
        return _remove_element(root, rng)
    element, name = rng.choice(elements)
    ids = _ids(root)
    element.set(name, rng.choice([*rng.sample(ids, min(3, len(ids))), "nosuch", "", "a,b"]))
    return None


def _empty_group(root: ET.Element, rng: random.Random) -> None:
    """Groups, clones and bundles with no member: the shapes the assigner trips on."""
    containers = [e for e in root.iter() if e.tag in ("group", "clone", "master", "bundle")]
    if not containers:
        return _empty_element(root, rng)
    target = rng.choice(containers)
    for child in list(target):
        if child.tag in ("primitive", "group") or rng.random() < 0.3:
            target.remove(child)
    return None


OP_FIELDS = {
    "rc-code": ["0", "1", "7", "8", "9", "193", "-1", "255", "999999"],
    "op-status": ["0", "1", "2", "4", "5", "6", "7", "-1", "99"],
    "operation": ["start", "stop", "monitor", "promote", "demote", "migrate_to",
                  "migrate_from", "notify", "reload", "reload-agent", "meta-data", "bogus"],
    "interval": ["0", "10000", "-1", "inf", "99999999999999"],
    "call-id": ["-1", "0", "1", "999999999999", "inf"],
    "on_node": ["nosuch", ""], "migrate_source": ["nosuch", ""], "migrate_target": ["nosuch"],
    "transition-key": ["", "x", "1:2:3:abc", "0:0:0:00000000-0000-0000-0000-000000000000"],
    "transition-magic": ["", "x", "0:0;1:2:3:abc", "-1:193;1:2:0:x"],
    "op-digest": ["", "nonhex"], "crm_feature_set": ["", "99.99", "x"],
}


def _set_status_field(root: ET.Element, rng: random.Random) -> None:
    """History records with values the controller would never write, and some it would."""
    ops = root.findall(".//lrm_rsc_op")
    if not ops:
        return _set_attribute(root, rng)
    op = rng.choice(ops)
    name = rng.choice(sorted({*OP_FIELDS, "last-rc-change", "last-run", "exec-time"}))
    pool = OP_FIELDS.get(name, []) + NUMBERS[:20]
    op.set(name, rng.choice(pool))
    return None


def _add_node_attribute(root: ET.Element, rng: random.Random) -> None:
    """Transient attributes: fail counts, last failures, health, promotion scores."""
    states = root.findall(".//node_state")
    rscs = [e.get("id", "") for e in root.iter() if e.tag == "primitive"] or ["x"]
    if not states:
        return _set_attribute(root, rng)
    state = rng.choice(states)
    attrs = state.find("transient_attributes")
    if attrs is None:
        attrs = ET.SubElement(state, "transient_attributes", id=state.get("id", "x"))
    inner = attrs.find("instance_attributes")
    if inner is None:
        inner = ET.SubElement(attrs, "instance_attributes", id=f"status-{state.get('id')}")
    rsc = rng.choice(rscs)
    name = rng.choice([f"fail-count-{rsc}#start_0", f"fail-count-{rsc}#monitor_10000",
                       f"last-failure-{rsc}#start_0", f"master-{rsc}", f"promotion-{rsc}",
                       "#health-disk", "shutdown", "terminate", "standby", "maintenance",
                       "probe_complete"])
    ET.SubElement(inner, "nvpair", id=f"fuzz-{rng.randrange(10**6)}", name=name,
                  value=_value(rng, "value"))
    return None


MUTATIONS: list[tuple[int, Callable[[ET.Element, random.Random], None]]] = [
    (30, _set_attribute), (20, _set_nvpair), (12, _add_nvpair), (8, _remove_element),
    (4, _empty_element), (6, _duplicate_element), (4, _move_element), (6, _collide_id),
    (8, _dangle_reference), (6, _empty_group), (14, _set_status_field),
    (10, _add_node_attribute),
]


def mutate(xml: bytes, rng: random.Random, count: int = 1) -> bytes:
    root = ET.fromstring(xml)
    weights = [w for w, _ in MUTATIONS]
    for _ in range(count):
        _, action = rng.choices(MUTATIONS, weights)[0]
        try:
            action(root, rng)
        except IndexError:  # rng.choice of nothing: the document has no target left
            continue
    return ET.tostring(root)


@dataclass
class Outcome:
    kind: str  # "scheduled", "refused" (a clean DefibError), "crash"
    detail: str = ""


def run_one(xml: bytes, now: dt.datetime | None = None, execute: bool = True) -> Outcome:
    """Parse, schedule, build the graph, simulate and render one CIB; never raises."""
    from defib.cib.parse import parse_cib
    from defib.errors import DefibError
    from defib.graph.xml import graph_to_xml
    from defib.simulate.engine import simulate

    try:
        cib = parse_cib(xml)
        sim = simulate(cib, now, execute=execute, default_now=dt.datetime(2026, 1, 1))
        graph_to_xml(sim.graph)
        sim.text(scores=True) if execute else sim.status_lines()
    except DefibError as exc:
        return Outcome("refused", f"{type(exc).__name__}: {exc}")
    except RecursionError:
        return Outcome("crash", traceback.format_exc(limit=-8))
    except Exception:
        return Outcome("crash", traceback.format_exc(limit=-8))
    return Outcome("scheduled")
