"""CIB XML -> typed model.

References by ``id-ref`` are resolved here, so the model never holds dangling ids.

Like Pacemaker's unpacking, a malformed object does not stop the reading of the rest: a
dangling ``id-ref``, a group with no member, a clone with nothing to clone are reported (in
``Cib.problems``, and logged once per process) and skipped. Only a document that is not a
CIB at all (malformed XML, no ``<configuration>``) is an error.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

from defib.cib.timespec import parse_ms
from defib.errors import CibParseError
from defib.model.cib import Cib, FencingLevel, Node, Tag
from defib.model.constraints import Colocation, Location, Order, ResourceSet, Ticket
from defib.model.nvsets import NvSet
from defib.model.resources import (
    Bundle,
    Clone,
    Group,
    Operation,
    PortMapping,
    Primitive,
    Resource,
    StorageMapping,
    Template,
)
from defib.model.rules import (
    AttributeExpression,
    DateExpression,
    DateSpec,
    Duration,
    Expression,
    OperationExpression,
    ResourceExpression,
    Rule,
)
from defib.model.scores import parse_score
from defib.model.status import LrmResource, NodeState, OpRecord, TicketState
from defib.perf import cyclic_gc_paused

log = logging.getLogger("defib.cib")
# Problems already logged by this process: the DC reads the same CIB on every event.
_LOGGED: OrderedDict[str, None] = OrderedDict()


def _log_once(message: str) -> None:
    if message in _LOGGED:
        return
    _LOGGED[message] = None
    if len(_LOGGED) > 1000:
        _LOGGED.popitem(last=False)
    log.warning("CIB: %s", message)


T = TypeVar("T")


class _Skip(Exception):
    """This object is malformed: report it and leave it out."""


_NVSET_TAGS = ("instance_attributes", "meta_attributes", "utilization", "cluster_property_set")


def _bool(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    return text.strip().lower() in ("true", "yes", "on", "1", "y")


def _opt_bool(text: str | None) -> bool | None:
    return None if text is None else _bool(text, False)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _int(text: str | None, default: int = 0) -> int:
    """An integer attribute as Pacemaker reads one (strtoll): clamped to 64 bits; the
    default when unreadable ("inf", "nan", "abc")."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        try:
            value = int(float(text))
        except (ValueError, OverflowError):  # OverflowError: "inf", "1e999"
            return default
    return max(INT64_MIN, min(INT64_MAX, value))


class _Parser:
    """Holds the id index of one document while it is read."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.problems: list[str] = []
        self.by_id: dict[str, ET.Element] = {}
        for element in root.iter():
            ident = element.get("id")
            if ident is not None and element.get("id-ref") is None:
                self.by_id.setdefault(ident, element)

    def report(self, message: str) -> None:
        self.problems.append(message)
        _log_once(message)

    def deref(self, element: ET.Element) -> ET.Element:
        ref = element.get("id-ref")
        if ref is None:
            return element
        target = self.by_id.get(ref)
        if target is None or target.tag != element.tag:
            what = "does not exist" if target is None else f"is a <{target.tag}>"
            raise _Skip(f"<{element.tag} id-ref={ref!r}> ignored: that id {what}")
        return target

    def each(self, elements: Iterable[ET.Element], read: Callable[[ET.Element], T]) -> list[T]:
        """``read`` every element; a malformed one is reported and left out."""
        out = []
        for element in elements:
            try:
                out.append(read(element))
            except _Skip as skip:
                self.report(str(skip))
        return out

    # -- rules and name/value sets ------------------------------------------------------

    def rule(self, element: ET.Element) -> Rule:
        element = self.deref(element)
        expressions = [e for e in self.each(element, self.expression) if e is not None]
        score = element.get("score")
        return Rule(
            id=element.get("id", ""),
            boolean_op=element.get("boolean-op", "and"),
            score=parse_score(score) if score is not None else None,
            score_attribute=element.get("score-attribute"),
            role=element.get("role"),
            expressions=tuple(expressions),
        )

    def expression(self, element: ET.Element) -> Expression | None:
        element = self.deref(element)
        tag = element.tag
        if tag == "rule":
            return self.rule(element)
        if tag == "expression":
            return AttributeExpression(
                id=element.get("id", ""),
                attribute=element.get("attribute", ""),
                operation=element.get("operation", "eq"),
                value=element.get("value"),
                type=element.get("type", "string"),
                value_source=element.get("value-source", "literal"),
            )
        if tag == "date_expression":
            spec = element.find("date_spec")
            duration = element.find("duration")
            return DateExpression(
                id=element.get("id", ""),
                operation=element.get("operation", "in_range"),
                start=element.get("start"),
                end=element.get("end"),
                duration=Duration(
                    id=duration.get("id", ""),
                    fields=tuple((k, _int(v)) for k, v in duration.attrib.items() if k != "id"),
                )
                if duration is not None
                else None,
                date_spec=DateSpec(
                    id=spec.get("id", ""),
                    fields=tuple((k, v) for k, v in spec.attrib.items() if k != "id"),
                )
                if spec is not None
                else None,
            )
        if tag == "rsc_expression":
            return ResourceExpression(
                id=element.get("id", ""),
                rsc_class=element.get("class"),
                provider=element.get("provider"),
                type=element.get("type"),
            )
        if tag == "op_expression":
            interval = element.get("interval")
            return OperationExpression(
                id=element.get("id", ""),
                name=element.get("name", ""),
                interval_ms=parse_ms(interval) if interval is not None else None,
            )
        return None

    def nvset(self, element: ET.Element) -> NvSet:
        element = self.deref(element)
        pairs: list[tuple[str, str]] = []
        rule: Rule | None = None
        for child in element:
            if child.tag == "nvpair":
                try:
                    child = self.deref(child)
                except _Skip as skip:
                    self.report(str(skip))
                    continue
                name = child.get("name")
                if name is None:
                    continue
                pairs.append((name, child.get("value", "")))
            elif child.tag == "rule":
                rules = self.each([child], self.rule)
                rule = rules[0] if rules else rule
        return NvSet(
            id=element.get("id", ""),
            pairs=tuple(pairs),
            score=parse_score(element.get("score")),
            rule=rule,
        )

    def nvsets(self, parent: ET.Element, tag: str) -> tuple[NvSet, ...]:
        return tuple(self.each((c for c in parent if c.tag == tag), self.nvset))

    # -- resources -----------------------------------------------------------------------

    def operations(self, parent: ET.Element) -> tuple[Operation, ...]:
        ops_el = parent.find("operations")
        if ops_el is None:
            return ()
        try:
            ops_el = self.deref(ops_el)
        except _Skip as skip:
            self.report(str(skip))
            return ()
        return tuple(self.each(ops_el.findall("op"), self.operation))

    def operation(self, op: ET.Element) -> Operation:
        op = self.deref(op)
        meta = self.nvsets(op, "meta_attributes")
        attrs = dict(op.attrib)
        # Meta attributes of an op act as its XML attributes (timeout, on-fail ...).
        for nvset in meta:
            for key, value in nvset.pairs:
                attrs.setdefault(key, value)
        return Operation(
            id=op.get("id", ""),
            name=op.get("name", ""),
            interval_ms=parse_ms(attrs.get("interval"), 0) or 0,
            role=attrs.get("role"),
            timeout=attrs.get("timeout"),
            on_fail=attrs.get("on-fail"),
            enabled=_bool(attrs.get("enabled"), True),
            attributes=tuple(attrs.items()),
            instance_attributes=self.nvsets(op, "instance_attributes"),
            meta_attributes=meta,
        )

    def primitive(self, element: ET.Element) -> Primitive:
        return Primitive(
            id=element.get("id", ""),
            rsc_class=element.get("class"),
            provider=element.get("provider"),
            type=element.get("type"),
            template=element.get("template"),
            description=element.get("description"),
            instance_attributes=self.nvsets(element, "instance_attributes"),
            meta_attributes=self.nvsets(element, "meta_attributes"),
            utilization=self.nvsets(element, "utilization"),
            operations=self.operations(element),
        )

    def template(self, element: ET.Element) -> Template:
        return Template(
            id=element.get("id", ""),
            rsc_class=element.get("class"),
            provider=element.get("provider"),
            type=element.get("type"),
            instance_attributes=self.nvsets(element, "instance_attributes"),
            meta_attributes=self.nvsets(element, "meta_attributes"),
            utilization=self.nvsets(element, "utilization"),
            operations=self.operations(element),
        )

    def group(self, element: ET.Element) -> Group:
        members = tuple(self.primitive(c) for c in element if c.tag == "primitive")
        if not members:
            # Pacemaker allows it (and shows nothing); defib's phases expect a first member.
            raise _Skip(f"group {element.get('id')!r} has no member resources: ignored")
        return Group(
            id=element.get("id", ""),
            members=members,
            meta_attributes=self.nvsets(element, "meta_attributes"),
            instance_attributes=self.nvsets(element, "instance_attributes"),
            description=element.get("description"),
        )

    def clone(self, element: ET.Element) -> Clone:
        child_el = next((c for c in element if c.tag in ("primitive", "group")), None)
        if child_el is None:
            raise _Skip(f"<{element.tag} id={element.get('id')!r}> has nothing to clone: ignored")
        child: Primitive | Group = (
            self.primitive(child_el) if child_el.tag == "primitive" else self.group(child_el)
        )
        meta = self.nvsets(element, "meta_attributes")
        promotable = element.tag == "master" or any(
            _bool(s.get("promotable"), False) for s in meta if s.rule is None
        )
        return Clone(
            id=element.get("id", ""),
            child=child,
            promotable=promotable,
            meta_attributes=meta,
            instance_attributes=self.nvsets(element, "instance_attributes"),
            description=element.get("description"),
            legacy_master=element.tag == "master",
        )

    def bundle(self, element: ET.Element) -> Bundle:
        kind = "docker"
        container: tuple[tuple[str, str], ...] = ()
        for tag in ("docker", "podman", "rkt"):
            found = element.find(tag)
            if found is not None:
                kind = tag
                container = tuple(found.attrib.items())
        net = element.find("network")
        ports: list[PortMapping] = []
        if net is not None:
            for pm in net.findall("port-mapping"):
                ports.append(
                    PortMapping(
                        id=pm.get("id", ""),
                        port=pm.get("port"),
                        internal_port=pm.get("internal-port"),
                        range=pm.get("range"),
                    )
                )
        storage: list[StorageMapping] = []
        st = element.find("storage")
        if st is not None:
            for sm in st.findall("storage-mapping"):
                storage.append(
                    StorageMapping(
                        id=sm.get("id", ""),
                        source_dir=sm.get("source-dir"),
                        source_dir_root=sm.get("source-dir-root"),
                        target_dir=sm.get("target-dir"),
                        options=sm.get("options"),
                    )
                )
        prim = element.find("primitive")
        return Bundle(
            id=element.get("id", ""),
            container_type=kind,
            container=container,
            network=tuple(net.attrib.items()) if net is not None else (),
            port_mappings=tuple(ports),
            storage=tuple(storage),
            child=self.primitive(prim) if prim is not None else None,
            meta_attributes=self.nvsets(element, "meta_attributes"),
            description=element.get("description"),
        )

    def resource(self, element: ET.Element) -> Resource | None:
        if element.tag == "primitive":
            return self.primitive(element)
        if element.tag == "group":
            return self.group(element)
        if element.tag in ("clone", "master"):
            return self.clone(element)
        if element.tag == "bundle":
            return self.bundle(element)
        return None

    # -- constraints ---------------------------------------------------------------------

    def resource_sets(self, element: ET.Element) -> tuple[ResourceSet, ...]:
        out: list[ResourceSet] = []
        for rs in element.findall("resource_set"):
            try:
                rs = self.deref(rs)
            except _Skip as skip:
                self.report(str(skip))
                continue
            ordered = rs.get("ordered")
            out.append(
                ResourceSet(
                    id=rs.get("id", ""),
                    resources=tuple(r.get("id", "") for r in rs.findall("resource_ref")),
                    sequential=_bool(rs.get("sequential"), True),
                    require_all=_bool(rs.get("require-all"), True),
                    ordered=None if ordered is None else _bool(ordered, False),
                    action=rs.get("action"),
                    role=rs.get("role"),
                    score=rs.get("score"),
                    kind=rs.get("kind"),
                )
            )
        return tuple(out)

    def location(self, e: ET.Element) -> Location:
        return Location(
            id=e.get("id", ""),
            rsc=e.get("rsc"),
            rsc_pattern=e.get("rsc-pattern"),
            node=e.get("node"),
            score=e.get("score"),
            role=e.get("role"),
            rules=tuple(self.rule(r) for r in e.findall("rule")),
            resource_discovery=e.get("resource-discovery"),
            sets=self.resource_sets(e),
        )

    def colocation(self, e: ET.Element) -> Colocation:
        influence = e.get("influence")
        return Colocation(
            id=e.get("id", ""),
            rsc=e.get("rsc"),
            with_rsc=e.get("with-rsc"),
            score=e.get("score"),
            rsc_role=e.get("rsc-role"),
            with_rsc_role=e.get("with-rsc-role"),
            node_attribute=e.get("node-attribute"),
            influence=None if influence is None else _bool(influence, True),
            sets=self.resource_sets(e),
        )

    def order(self, e: ET.Element) -> Order:
        return Order(
            id=e.get("id", ""),
            first=e.get("first"),
            then=e.get("then"),
            first_action=e.get("first-action"),
            then_action=e.get("then-action"),
            kind=e.get("kind"),
            score=e.get("score"),
            symmetrical=_opt_bool(e.get("symmetrical")),
            require_all=_bool(e.get("require-all"), True),
            sets=self.resource_sets(e),
        )

    def ticket(self, e: ET.Element) -> Ticket:
        return Ticket(
            id=e.get("id", ""),
            ticket=e.get("ticket", ""),
            rsc=e.get("rsc"),
            rsc_role=e.get("rsc-role"),
            loss_policy=e.get("loss-policy"),
            sets=self.resource_sets(e),
        )

    # -- status --------------------------------------------------------------------------

    def op_record(self, e: ET.Element) -> OpRecord:
        def opt_int(name: str) -> int | None:
            value = e.get(name)
            return None if value is None else _int(value)

        return OpRecord(
            id=e.get("id", ""),
            operation=e.get("operation", ""),
            interval_ms=_int(e.get("interval"), 0),  # status records milliseconds
            call_id=_int(e.get("call-id"), 0),
            rc_code=_int(e.get("rc-code"), 0),
            op_status=_int(e.get("op-status"), 0),
            operation_key=e.get("operation_key"),
            transition_key=e.get("transition-key"),
            transition_magic=e.get("transition-magic"),
            op_digest=e.get("op-digest"),
            op_restart_digest=e.get("op-restart-digest"),
            op_secure_digest=e.get("op-secure-digest"),
            op_force_restart=e.get("op-force-restart"),
            last_rc_change=opt_int("last-rc-change"),
            last_run=opt_int("last-run"),
            exec_time=opt_int("exec-time"),
            queue_time=opt_int("queue-time"),
            on_node=e.get("on_node"),
            exit_reason=e.get("exit-reason"),
            migrate_source=e.get("migrate_source"),
            migrate_target=e.get("migrate_target"),
            crm_feature_set=e.get("crm_feature_set"),
            attributes=tuple(e.attrib.items()),
        )

    def node_state(self, e: ET.Element) -> NodeState:
        transient: tuple[NvSet, ...] = ()
        ta = e.find("transient_attributes")
        if ta is not None:
            transient = self.nvsets(ta, "instance_attributes")
        lrm_resources: list[LrmResource] = []
        lrm = e.find("lrm")
        if lrm is not None:
            lr = lrm.find("lrm_resources")
            for r in lr.findall("lrm_resource") if lr is not None else []:
                lrm_resources.append(
                    LrmResource(
                        id=r.get("id", ""),
                        rsc_class=r.get("class"),
                        provider=r.get("provider"),
                        type=r.get("type"),
                        container=r.get("container"),
                        ops=tuple(self.op_record(o) for o in r.findall("lrm_rsc_op")),
                        shutdown_lock=_epoch(r.get("shutdown-lock")),
                    )
                )
        return NodeState(
            id=e.get("id", ""),
            uname=e.get("uname"),
            in_ccm=e.get("in_ccm"),
            crmd=e.get("crmd"),
            join=e.get("join"),
            expected=e.get("expected"),
            ha=e.get("ha"),
            crm_debug_origin=e.get("crm-debug-origin"),
            shutdown=e.get("shutdown"),
            transient_attributes=transient,
            lrm_resources=tuple(lrm_resources),
            has_lrm=lrm is not None,
            attributes=tuple(e.attrib.items()),
        )

    # -- whole document ------------------------------------------------------------------

    def cib(self) -> Cib:
        root = self.root
        if root.tag != "cib":
            raise CibParseError(f"root element is <{root.tag}>, expected <cib>")
        config = root.find("configuration")
        if config is None:
            raise CibParseError("<cib> has no <configuration> element")

        def section(name: str) -> Iterable[ET.Element]:
            found = config.find(name) if config is not None else None
            return list(found) if found is not None else []

        crm_config = tuple(self.each(
            (c for c in section("crm_config") if c.tag == "cluster_property_set"), self.nvset))
        rsc_defaults = tuple(self.each(
            (c for c in section("rsc_defaults") if c.tag == "meta_attributes"), self.nvset))
        op_defaults = tuple(self.each(
            (c for c in section("op_defaults") if c.tag == "meta_attributes"), self.nvset))
        nodes = tuple(
            Node(
                id=n.get("id", ""),
                uname=n.get("uname", n.get("id", "")),
                type=n.get("type", "member"),
                description=n.get("description"),
                attributes=self.nvsets(n, "instance_attributes"),
                utilization=self.nvsets(n, "utilization"),
                score=n.get("score"),
            )
            for n in section("nodes")
            if n.tag == "node"
        )
        resources: list[Resource] = []
        templates: list[Template] = []
        for element in section("resources"):
            if element.tag == "template":
                templates += self.each([element], self.template)
                continue
            resources += [r for r in self.each([element], self.resource) if r is not None]
        locations, colocations, orders, tickets = [], [], [], []
        for c in section("constraints"):
            if c.tag == "rsc_location":
                locations += self.each([c], self.location)
            elif c.tag == "rsc_colocation":
                colocations += self.each([c], self.colocation)
            elif c.tag == "rsc_order":
                orders += self.each([c], self.order)
            elif c.tag == "rsc_ticket":
                tickets += self.each([c], self.ticket)
        tags = tuple(
            Tag(id=t.get("id", ""), refs=tuple(r.get("id", "") for r in t.findall("obj_ref")))
            for t in section("tags")
            if t.tag == "tag"
        )
        levels = tuple(
            FencingLevel(
                id=lv.get("id", ""),
                index=_int(lv.get("index"), 0),
                devices=tuple(d for d in lv.get("devices", "").split(",") if d),
                target=lv.get("target"),
                target_pattern=lv.get("target-pattern"),
                target_attribute=lv.get("target-attribute"),
                target_value=lv.get("target-value"),
            )
            for lv in section("fencing-topology")
            if lv.tag == "fencing-level"
        )
        status = root.find("status")
        node_states: tuple[NodeState, ...] = ()
        ticket_states: list[TicketState] = []
        if status is not None:
            node_states = tuple(self.node_state(n) for n in status.findall("node_state"))
            tickets_el = status.find("tickets")
            if tickets_el is not None:
                for ts in tickets_el.findall("ticket_state"):
                    ticket_states.append(
                        TicketState(
                            id=ts.get("id", ""),
                            granted=_bool(ts.get("granted"), False),
                            standby=_bool(ts.get("standby"), False),
                            last_granted=ts.get("last-granted"),
                            attributes=tuple(ts.attrib.items()),
                        )
                    )
        return Cib(
            validate_with=root.get("validate-with"),
            admin_epoch=_int(root.get("admin_epoch")),
            epoch=_int(root.get("epoch")),
            num_updates=_int(root.get("num_updates")),
            dc_uuid=root.get("dc-uuid"),
            have_quorum=_bool(root.get("have-quorum"), False),
            crm_config=crm_config,
            rsc_defaults=rsc_defaults,
            op_defaults=op_defaults,
            nodes=nodes,
            resources=tuple(resources),
            templates=tuple(templates),
            locations=tuple(locations),
            colocations=tuple(colocations),
            orders=tuple(orders),
            tickets=tuple(tickets),
            tags=tags,
            fencing_levels=levels,
            node_states=node_states,
            ticket_states=tuple(ticket_states),
            attributes=tuple(root.attrib.items()),
            problems=tuple(self.problems),
        )


def parse_cib(text: str | bytes) -> Cib:
    """Read CIB XML text into the model; malformed XML raises CibParseError with its position."""
    with cyclic_gc_paused():
        return _parse_cib(text)


CHUNK = 1 << 16


def xml_root(text: str | bytes) -> ET.Element:
    """``ET.fromstring`` fed in 64 KiB pieces: the C parser holds the GIL for one piece at a
    time, so a big CIB parsed in a worker thread does not stall the thread with the event
    loop (one call would hold it for the whole document, 100 ms for 1,000 resources)."""
    if len(text) <= CHUNK:
        return ET.fromstring(text)
    parser = ET.XMLParser()
    for start in range(0, len(text), CHUNK):
        parser.feed(text[start:start + CHUNK])
    return parser.close()


def _parse_cib(text: str | bytes) -> Cib:
    try:
        root = xml_root(text)
    except ET.ParseError as exc:
        line, column = exc.position
        raise CibParseError(f"malformed CIB XML at line {line}, column {column}: {exc}") from exc
    return _Parser(root).cib()


def parse_cib_file(path: str) -> Cib:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CibParseError(f"cannot read CIB file {path}: {exc.strerror}", path) from exc
    return parse_cib(data)


def _epoch(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
