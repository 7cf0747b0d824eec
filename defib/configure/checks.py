"""Typed checks of a configuration: scores, durations, booleans, enumerated values, and the
names of meta attributes and cluster options, with a suggestion for every typo.

Pacemaker accepts most of these mistakes silently (an unparsable interval is an interval of 0,
an unknown ``target-role`` is ignored with a log line): the configuration then does something
else than what was written. Every write of defib runs these checks first (``new_findings``
compares with the configuration before, so an old mistake does not block unrelated changes).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from defib.cib.options import invalid_value
from defib.commands.options import OPTIONS
from defib.commands.report import Severity
from defib.configure.syntax import suggest

_SCORE = re.compile(r"^[+-]?(INFINITY|\d+)$")
_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*$", re.I)
# ISO 8601 durations as Pacemaker's parser takes them (it also reads ``P10S`` without the T).
_ISO_DURATION = re.compile(r"^P(\d+(\.\d+)?[YMWDHS])*(T(\d+(\.\d+)?[HMS])+)?$")
_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n", "1", "0"}
_ROLES = ("Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave")
_ACTIONS = ("start", "stop", "promote", "demote")


def is_score(text: str) -> bool:
    """What the schema takes as a score: an integer or [+-]INFINITY (red/yellow/green are
    node-health scores, valid only where Pacemaker reads them)."""
    return bool(_SCORE.match(text))


def is_duration(text: str) -> bool:
    iso = text.strip().upper()
    return bool(_DURATION.match(text) or (len(iso) > 1 and _ISO_DURATION.match(iso)))


def _distance(a: str, b: str) -> int:
    """Edit distance with transpositions (``enabeld`` is one slip from ``enabled``)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            cur.append(d)
        prev2, prev = prev, cur
    return prev[-1]


def typo_of(word: str, known: list[str]) -> str | None:
    """The known name ``word`` is a slip of: the same but for case and ``_``/``-``, or one or
    two keystrokes away (three for long names). None when it is simply another name."""
    canon = word.lower().replace("_", "-")
    best = None
    for name in known:
        if name.lower().replace("_", "-") == canon:
            return name
        limit = 1 if len(name) < 5 else 2 if len(name) < 12 else 3
        d = _distance(canon, name.lower())
        if d <= limit and (best is None or d < best[0]):
            best = (d, name)
    return best[1] if best else None


@dataclass(frozen=True)
class Kind:
    """A value type: ``check(value)`` says whether it is valid; ``expected`` for messages."""

    expected: str
    check: Callable[[str], bool]
    choices: tuple[str, ...] = ()


def _enum(*values: str, case: bool = False) -> Kind:
    if case:
        return Kind("one of " + ", ".join(values), lambda v: v in values, values)
    lowered = {v.lower() for v in values}
    return Kind("one of " + ", ".join(values), lambda v: v.lower() in lowered, values)


SCORE = Kind("a score (an integer, INFINITY or -INFINITY)", is_score, ("INFINITY", "-INFINITY"))
DURATION = Kind("a duration such as 10s, 5min, 500ms or PT1M", is_duration)
BOOLEAN = Kind("a boolean (true or false)", lambda v: v.lower() in _BOOLEANS,
               ("true", "false"))
INTEGER = Kind("an integer", lambda v: re.fullmatch(r"[+-]?\d+(\.0*)?", v) is not None)
INT_OR_SCORE = Kind("an integer or INFINITY", is_score, ("INFINITY",))
TEXT = Kind("text", lambda v: True)
# "#default" is how old CIBs spell "no target-role".
ROLE = Kind("one of " + ", ".join(_ROLES),
            lambda v: v.lower() in {r.lower() for r in _ROLES} or v == "#default", _ROLES)
ACTION = _enum(*_ACTIONS, case=True)

# Meta attributes of resources (Pacemaker Explained 2.1, "Resource Meta-Attributes", clones,
# bundles and remote nodes) with their types.
RESOURCE_META: dict[str, Kind] = {
    "priority": INTEGER, "critical": BOOLEAN, "target-role": ROLE, "is-managed": BOOLEAN,
    "maintenance": BOOLEAN, "resource-stickiness": SCORE, "requires":
        _enum("nothing", "quorum", "fencing", "unfencing"),
    "migration-threshold": INT_OR_SCORE, "failure-timeout": DURATION,
    "multiple-active": _enum("block", "stop_only", "stop_start", "stop_unexpected"),
    "allow-migrate": BOOLEAN, "allow-unhealthy-nodes": BOOLEAN,
    "container-attribute-target": TEXT, "remote-node": TEXT, "remote-port": INTEGER,
    "remote-addr": TEXT, "remote-connect-timeout": DURATION, "remote-allow-migrate": BOOLEAN,
    "globally-unique": BOOLEAN, "clone-max": INTEGER, "clone-node-max": INTEGER,
    "clone-min": INTEGER, "notify": BOOLEAN, "ordered": BOOLEAN, "interleave": BOOLEAN,
    "promotable": BOOLEAN, "promoted-max": INTEGER, "promoted-node-max": INTEGER,
    "master-max": INTEGER, "master-node-max": INTEGER, "collocated": BOOLEAN,
    "resource-failure-stickiness": SCORE, "restart-type": TEXT, "description": TEXT,
    "isolation": TEXT, "isolation-instance": TEXT, "isolation-wrapper": TEXT,
    "isolation-host": TEXT, "add-on": TEXT, "is-managed-default": BOOLEAN,
    "container": TEXT, "provides": TEXT,
}
ON_FAIL = _enum("ignore", "block", "stop", "restart", "standby", "fence", "restart-container",
                "demote")
OP_ATTRS: dict[str, Kind] = {
    "interval": DURATION, "timeout": DURATION, "start-delay": DURATION,
    "on-fail": ON_FAIL, "requires": _enum("nothing", "quorum", "fencing", "unfencing"),
    "role": ROLE, "enabled": BOOLEAN, "record-pending": BOOLEAN, "interval-origin": TEXT,
    "name": TEXT, "id": TEXT, "description": TEXT,
}
# Constraint attributes: element tag -> attribute -> kind.
CONSTRAINT_ATTRS: dict[str, dict[str, Kind]] = {
    "rsc_location": {"score": SCORE, "role": ROLE,
                     "resource-discovery": _enum("always", "never", "exclusive")},
    "rsc_colocation": {"score": SCORE, "rsc-role": ROLE, "with-rsc-role": ROLE,
                       "influence": BOOLEAN},
    "rsc_order": {"score": SCORE, "first-action": ACTION, "then-action": ACTION,
                  "kind": _enum("Mandatory", "Optional", "Serialize"),
                  "symmetrical": BOOLEAN, "require-all": BOOLEAN},
    "rsc_ticket": {"rsc-role": ROLE, "loss-policy": _enum("stop", "demote", "fence", "freeze")},
    "resource_set": {"role": ROLE, "action": ACTION, "sequential": BOOLEAN,
                     "require-all": BOOLEAN, "score": SCORE,
                     "ordering": _enum("group", "listed"), "kind":
                         _enum("Mandatory", "Optional", "Serialize")},
    "rule": {"score": SCORE, "role": ROLE, "boolean-op": _enum("and", "or")},
}
# Properties that Pacemaker itself or crmsh write besides the documented options.
# and the names older Pacemaker versions used.
_EXTRA_PROPERTIES = {"fencing-enabled", "last-lrm-refresh", "cluster-name", "dc-version",
                     "cluster-infrastructure", "have-watchdog", "crmd-transition-delay",
                     "transition-idle-timeout", "network-delay", "crmd-integration-timeout",
                     "crmd-finalization-timeout", "default-action-timeout",
                     "stonith-action-timeout", "expected-quorum-votes",
                     "no_quorum_policy", "stonith_enabled", "symmetric_cluster",
                     "default_resource_stickiness", "is_managed_default", "probe_complete"}
BOOTSTRAP = "cib-bootstrap-options"
RESOURCE_TAGS = ("primitive", "template", "group", "clone", "master", "bundle")


@dataclass(frozen=True)
class Finding:
    """One mistake in the XML. ``needle`` is the configure text it came from (``name=value``),
    to point at the token; ``where`` names the object for messages without a line."""

    code: str
    message: str
    where: str
    needle: str | None = None
    suggestion: str | None = None
    severity: Severity = "error"

    def key(self) -> tuple[str, str, str]:
        return self.code, self.where, self.message

    def text(self) -> str:
        return f"{self.where}: {self.message}"


def _value(kind: Kind, name: str, value: str, where: str) -> Iterator[Finding]:
    if kind.check(value):
        return
    yield Finding("invalid-value", f"invalid value {value!r} for {name}: expected "
                  f"{kind.expected}", where, f"{name}={value}",
                  suggest(value, kind.choices) if kind.choices else None)


def _name(name: str, known: dict[str, Kind] | set[str], what: str, where: str,
          value: str) -> Iterator[Finding]:
    # A slip of a known name is refused; any other name may be meant (agents and tools keep
    # their own attributes there), so it is only a warning.
    hint = typo_of(name, sorted(known))
    if hint is not None:
        yield Finding(f"unknown-{what.replace(' ', '-')}", f"unknown {what} {name!r}", where,
                      f"{name}={value}", hint)
    else:
        yield Finding(f"unknown-{what.replace(' ', '-')}", f"unknown {what} {name!r}", where,
                      f"{name}={value}", suggest(name, sorted(known)), "warning")


def _nvpairs(nvset: ET.Element) -> Iterator[tuple[str, str]]:
    for nv in nvset.findall("nvpair"):
        if nv.get("name") is not None and nv.get("value") is not None:
            yield nv.get("name", ""), nv.get("value", "")


def check_meta(nvset: ET.Element, where: str, known: dict[str, Kind],
               what: str = "meta attribute") -> Iterator[Finding]:
    for name, value in _nvpairs(nvset):
        kind = known.get(name)
        if kind is None:
            yield from _name(name, known, what, where, value)
        else:
            yield from _value(kind, name, value, where)


def check_property_set(nvset: ET.Element) -> Iterator[Finding]:
    """Only ``cib-bootstrap-options`` holds Pacemaker's options: other sets are free-form
    (SAP HANA keeps its state in one)."""
    if nvset.get("id") != BOOTSTRAP:
        return
    where = f"property set {BOOTSTRAP}"
    for name, value in _nvpairs(nvset):
        if name in _EXTRA_PROPERTIES and name not in OPTIONS:
            continue
        if name not in OPTIONS:
            yield from _name(name, set(OPTIONS) | _EXTRA_PROPERTIES, "cluster option", where,
                             value)
            continue
        if OPTIONS[name].read_only:
            continue  # written by the cluster itself
        why = invalid_value(name, value)  # the message has the suggestion already
        if why is not None:
            yield Finding("invalid-value", why, where, f"{name}={value}")


# Actions every agent class knows; agents may have their own (OCF's metadata lists them), so
# only a slip of one of these is refused.
STANDARD_ACTIONS = ("start", "stop", "monitor", "promote", "demote", "notify", "migrate_to",
                    "migrate_from", "reload", "reload-agent", "meta-data", "validate-all",
                    "status")


def check_op(op: ET.Element, owner: str) -> Iterator[Finding]:
    action = op.get("name", "?")
    where = f"{owner} op {action}"
    hint = typo_of(action, list(STANDARD_ACTIONS))
    if action not in STANDARD_ACTIONS and hint is not None:
        yield Finding("unknown-action", f"unknown operation {action!r}", where, action, hint)
    for name, value in op.attrib.items():
        if name == "requires":
            # Pacemaker's 3.x schemas refuse it there: it is the resource's meta attribute.
            yield Finding("misplaced-attribute", "requires is a resource meta attribute, not "
                          "an operation attribute (meta requires=...)", where,
                          f"{name}={value}")
        kind = OP_ATTRS.get(name)
        if kind is not None:
            yield from _value(kind, name, value, where)
    for meta in op.findall("meta_attributes"):
        yield from check_meta(meta, where, OP_ATTRS, "operation attribute")
    for params in op.findall("instance_attributes"):
        # Anything else after "op NAME" becomes an agent parameter of the operation
        # (OCF_CHECK_LEVEL): a slip of an operation attribute would silently land there.
        for name, value in _nvpairs(params):
            hint = typo_of(name, list(OP_ATTRS))
            if hint is not None and name not in OP_ATTRS:
                yield Finding("unknown-operation-attribute", f"unknown operation attribute "
                              f"{name!r}", where, f"{name}={value}", hint)


def check_resource(el: ET.Element) -> Iterator[Finding]:
    where = f"{el.tag} {el.get('id', '?')}"
    for meta in el.findall("meta_attributes"):
        yield from check_meta(meta, where, RESOURCE_META)
    for op in el.iterfind("operations/op"):
        yield from check_op(op, where)


def check_constraint(el: ET.Element) -> Iterator[Finding]:
    where = f"{el.tag} {el.get('id', '?')}"
    for sub in el.iter():
        kinds = CONSTRAINT_ATTRS.get(sub.tag, {})
        for name, value in sub.attrib.items():
            kind = kinds.get(name)
            if kind is not None:
                yield from _value(kind, name, value, where)
    if el.tag == "rsc_location" and el.get("score-attribute") is not None:
        yield Finding("invalid-score", f"score {el.get('score-attribute')!r} is not a "
                      "score (score-attribute is only for rules)", where,
                      el.get("score-attribute"))


def check_element(el: ET.Element) -> list[Finding]:
    """Checks of one configuration object (a parsed statement or a CIB element)."""
    found: list[Finding] = []
    if el.tag in RESOURCE_TAGS:
        for res in el.iter():
            if res.tag in RESOURCE_TAGS:
                found += check_resource(res)
    elif el.tag in ("rsc_location", "rsc_colocation", "rsc_order", "rsc_ticket"):
        found += check_constraint(el)
    elif el.tag == "cluster_property_set":
        found += check_property_set(el)
    return found


def check_configuration(conf: ET.Element) -> list[Finding]:
    found: list[Finding] = []
    for el in conf.iterfind("resources/*"):
        found += check_element(el)
    for el in conf.iterfind("constraints/*"):
        found += check_element(el)
    for el in conf.iterfind("crm_config/cluster_property_set"):
        found += check_element(el)
    for meta in conf.iterfind("rsc_defaults/meta_attributes"):
        found += check_meta(meta, "rsc_defaults", RESOURCE_META)
    for meta in conf.iterfind("op_defaults/meta_attributes"):
        found += check_meta(meta, "op_defaults", OP_ATTRS, "operation attribute")
    return found


def new_findings(before: ET.Element | None, after: ET.Element) -> list[Finding]:
    """Findings of ``after`` that ``before`` did not have (both ``<configuration>``)."""
    old = {f.key() for f in check_configuration(before)} if before is not None else set()
    return [f for f in check_configuration(after) if f.key() not in old]


def check_parsed(kind: str, el: ET.Element) -> list[Finding]:
    """Checks of one parsed configure statement (``kind`` as the parser names it)."""
    if kind == "rsc_defaults":
        return list(check_meta(el, "rsc_defaults", RESOURCE_META))
    if kind == "op_defaults":
        return list(check_meta(el, "op_defaults", OP_ATTRS, "operation attribute"))
    if kind == "monitor":
        return list(check_op(el, "monitor"))
    return check_element(el)
