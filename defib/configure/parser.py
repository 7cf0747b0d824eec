"""Parse configure-language statements into CIB XML elements (ids generated as crmsh does).

``parse_text`` reads a whole script and returns ``Parsed`` objects plus every problem found;
a statement with a mistake is skipped and the next one is read, so all mistakes are reported
together. Placing the elements into a CIB is ``defib.configure.cibdoc``'s business.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from defib.configure import acl
from defib.configure.ids import IdAllocator
from defib.configure.lexer import Statement, Token, split_statements
from defib.configure.report import Problem
from defib.configure.syntax import (
    ACTIONS,
    OP_ATTRIBUTES,
    ORDER_KINDS,
    RESOURCE_SECTIONS,
    ROLES,
    SCORE_WORDS,
    SET_TAGS,
    STATEMENTS,
    ParseFailure,
    TokenStream,
    canon_interval,
    canon_score,
    suggest,
    suggest_score,
)

# Maps (tag, $id-ref value) to the id meant: crmsh lets ``operations $id-ref=`` name a
# primitive and ``rule $id-ref=`` name a location.
Resolver = Callable[[str, str], str]


@dataclass
class Parsed:
    """One statement read into XML. ``children``: resources a container takes in."""

    kind: str
    ident: str
    element: ET.Element
    statement: Statement
    children: list[tuple[str, Token]] = field(default_factory=list)
    refs: list[tuple[str, Token]] = field(default_factory=list)
    target: tuple[str, Token] | None = None


def parse_text(text: str, ids: IdAllocator | None = None,
               resolve_ops: Resolver | None = None,
               node_names: list[str] | None = None) -> tuple[list[Parsed], list[Problem]]:
    statements, problems = split_statements(text)
    ids = ids if ids is not None else IdAllocator()
    out: list[Parsed] = []
    for st in statements:
        try:
            out.append(parse_statement(st, ids, resolve_ops, node_names))
        except ParseFailure as exc:
            problems.append(exc.problem)
    return out, problems


def parse_statement(st: Statement, ids: IdAllocator, resolve_ops: Resolver | None = None,
                    node_names: list[str] | None = None) -> Parsed:
    ts = TokenStream(st, ids)
    if resolve_ops is not None:
        ts.resolve = resolve_ops
    head = ts.next("a statement")
    word = head.text.lower()
    if word not in STATEMENTS:
        ts.fail(f"unknown statement {head.text!r}", head, suggest(word, STATEMENTS),
                code="unknown-keyword")
    handler = _HANDLERS[word]
    parsed = handler(ts, word, ts.resolve, node_names or [])
    if not ts.at_end():
        tok = ts.peek()
        assert tok is not None
        hint = suggest(tok.text.split("=")[0], _SUGGEST_AFTER.get(parsed.kind, ()))
        ts.fail(f"unexpected {tok.text!r} in {parsed.kind} {parsed.ident}", tok, hint)
    return parsed


_SUGGEST_AFTER = {
    "primitive": RESOURCE_SECTIONS + ("description",),
    "template": RESOURCE_SECTIONS + ("description",),
    "group": ("params", "meta", "description"),
    "clone": ("params", "meta", "description"),
    "master": ("params", "meta", "description"),
    "node": ("attributes", "utilization", "description"),
    "bundle": ("docker", "podman", "rkt", "network", "port-mapping", "storage",
               "storage-mapping", "primitive", "meta"),
    "alert": ("attributes", "meta", "select", "to"),
    "location": ("rule", "role", "resource-discovery"),
}


# -- nodes and resources --------------------------------------------------------------------
def _description(ts: TokenStream, el: ET.Element) -> None:
    tok = ts.peek()
    if tok is not None and tok.text.startswith("description="):
        ts.pos += 1
        el.set("description", tok.text.split("=", 1)[1])


def _sets(ts: TokenStream, el: ET.Element, owner: str, keywords: tuple[str, ...],
          implicit: str | None) -> None:
    """Attribute sets introduced by ``keywords`` (``implicit`` when no keyword is given)."""
    first = True
    while not ts.at_end():
        tok = ts.peek()
        assert tok is not None
        word = tok.text.lower()
        if word in keywords:
            ts.pos += 1
        elif first and implicit and (ts.is_nvpair(tok) or word == "rule"
                                     or tok.text.startswith("$id")):
            word = implicit
        else:
            return
        first = False
        tag = SET_TAGS[word]
        el.append(ts.attr_set(tag, owner, stop=keywords))


def _node(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    spec = ts.idspec()
    node_id = spec[1] if spec else None
    tok = ts.peek()
    if node_id is None and tok is not None and tok.text.endswith(":") and len(tok.text) > 1:
        node_id = tok.text[:-1]
        ts.pos += 1
    uname_tok = ts.next("a node name")
    uname, _, ntype = uname_tok.text.partition(":")
    el = ET.Element("node", {"id": node_id or uname, "uname": uname})
    if ntype:
        el.set("type", ntype)
    _description(ts, el)
    _sets(ts, el, el.get("id", uname), ("attributes", "utilization"), "attributes")
    return Parsed("node", uname, el, ts.statement, target=(uname, uname_tok))


def split_agent(text: str) -> tuple[str, str | None, str]:
    parts = text.split(":")
    if len(parts) == 1:
        return "ocf", "heartbeat", parts[0]
    if len(parts) == 2:
        if parts[0] == "ocf":
            return "ocf", "heartbeat", parts[1]
        return parts[0], None, parts[1]
    return parts[0], parts[1], ":".join(parts[2:])


def _primitive(ts: TokenStream, word: str, resolve_ops: Resolver, _n: list[str]) -> Parsed:
    kind = "template" if word in ("rsc_template", "template") else "primitive"
    ident, id_tok = ts.identifier("a resource id")
    if ts.ids.used(ident):
        ts.fail(f"id {ident!r} is already in use", id_tok, code="duplicate-id")
    ts.ids.take(ident)
    el = ET.Element(kind, {"id": ident})
    agent = ts.next("a resource agent (class:provider:type)")
    if agent.text.startswith("@") and kind == "primitive":
        el.set("template", agent.text[1:])
    else:
        cls, provider, typ = split_agent(agent.text)
        el.set("class", cls)
        if provider:
            el.set("provider", provider)
        el.set("type", typ)
    _description(ts, el)
    sets: list[ET.Element] = []
    ops_el: ET.Element | None = None
    first = True
    while not ts.at_end():
        tok = ts.peek()
        assert tok is not None
        w = tok.text.lower()
        if w in ("operations", "op"):
            if ops_el is None:
                ops_el = ET.Element("operations")
            if w == "operations":
                ts.pos += 1
                spec = ts.idspec()
                if spec is None:
                    continue  # a bare "operations": an (empty) operations element
                if spec[0] == "id-ref":
                    value = resolve_ops("operations", spec[1])
                else:
                    value = ts.ids.take(spec[1])
                ops_el.set(spec[0], value)
            while ts.peek_text() == "op":
                ops_el.append(_op(ts, ops_el.get("id") or ident))
        elif w in ("params", "meta", "utilization"):
            ts.pos += 1
            sets.append(ts.attr_set(SET_TAGS[w], ident, stop=RESOURCE_SECTIONS))
        elif first and (ts.is_nvpair(tok) or w == "rule" or tok.text.startswith("$id")):
            sets.append(ts.attr_set("instance_attributes", ident, stop=RESOURCE_SECTIONS))
        else:
            break
        first = False
    # Canonical child order (sets by kind, then operations) so that parse(render(x)) == x.
    for tag in ("instance_attributes", "meta_attributes", "utilization"):
        el.extend(s for s in sets if s.tag == tag)
    if ops_el is not None:
        el.append(ops_el)
    return Parsed(kind, ident, el, ts.statement)


def _op(ts: TokenStream, base: str) -> ET.Element:
    ts.expect("op")
    name_tok = ts.next("an operation name")
    op = ET.Element("op", {"name": name_tok.text})
    pairs = ts.simple_nvpairs(stop=("op", "op_params", "op_meta") + RESOURCE_SECTIONS)
    extra: list[tuple[str, str]] = []
    for name, value, tok in pairs:
        if name in OP_ATTRIBUTES:
            if extra:
                ts.fail(f"operation attribute {name!r} must come before instance attributes", tok)
            op.set(name, canon_interval(value) if name == "interval" else value)
        else:
            extra.append((name, value))
    if op.get("interval") is None:
        op.set("interval", "0s")
    op_id = op.get("id") or ts.ids.new(f"{base}-{name_tok.text}-{op.get('interval')}")
    if op.get("id"):
        ts.ids.take(op_id)
        del op.attrib["id"]
    op.set("id", op_id)
    if extra:
        ia = ET.SubElement(op, "instance_attributes",
                           {"id": ts.ids.new(f"{op_id}-instance_attributes")})
        for name, value in extra:
            ET.SubElement(ia, "nvpair", {"name": name, "value": value,
                                         "id": ts.ids.new(f"{ia.get('id')}-{name}")})
    while True:
        w = (ts.peek_text() or "").lower()
        if w not in ("op_params", "op_meta"):
            break
        ts.pos += 1
        op.append(ts.attr_set(SET_TAGS[w], op_id,
                              stop=("op", "op_params", "op_meta") + RESOURCE_SECTIONS))
    return op


def _container(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    kind = {"ms": "master"}.get(word, word)
    ident, tok = ts.identifier(f"a {kind} id")
    if ts.ids.used(ident):
        ts.fail(f"id {ident!r} is already in use", tok, code="duplicate-id")
    ts.ids.take(ident)
    el = ET.Element(kind, {"id": ident})
    children: list[tuple[str, Token]] = []
    while not ts.at_end():
        t = ts.peek()
        assert t is not None
        if t.text.lower() in ("params", "meta", "description") or "=" in t.text:
            break
        ts.pos += 1
        children.append((t.text, t))
        if kind != "group":
            break
    if not children:
        ts.fail(f"{word} {ident} needs a resource")
    _description(ts, el)
    _sets(ts, el, ident, ("params", "meta"), "params")
    return Parsed(kind, ident, el, ts.statement, children=children)


_BUNDLE_WORDS = ("docker", "podman", "rkt", "network", "port-mapping", "storage",
                 "storage-mapping", "primitive", "meta")


def _bundle(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    ident, tok = ts.identifier("a bundle id")
    if ts.ids.used(ident):
        ts.fail(f"id {ident!r} is already in use", tok, code="duplicate-id")
    ts.ids.take(ident)
    el = ET.Element("bundle", {"id": ident})
    _description(ts, el)
    children: list[tuple[str, Token]] = []
    container = network = storage = None
    metas: list[ET.Element] = []
    while not ts.at_end():
        t = ts.next()
        w = t.text.lower()
        if w in ("docker", "podman", "rkt"):
            container = ET.Element(w)
            for name, value, _ in ts.simple_nvpairs(_BUNDLE_WORDS):
                container.set(name, value)
        elif w == "network":
            network = ET.Element("network")
            for name, value, _ in ts.simple_nvpairs(_BUNDLE_WORDS):
                network.set(name, value)
        elif w in ("port-mapping", "storage-mapping"):
            parent = network if w == "port-mapping" else storage
            if parent is None:
                ts.fail(f"{w} must follow {'network' if w == 'port-mapping' else 'storage'}", t)
            assert parent is not None
            mapping = ET.SubElement(parent, w)
            pairs = ts.simple_nvpairs(_BUNDLE_WORDS)
            explicit = [v for n, v, _ in pairs if n == "id"]
            mapping.set("id", ts.ids.take(explicit[0]) if explicit else ts.ids.new(f"{ident}-{w}"))
            for name, value, _ in pairs:
                if name != "id":
                    mapping.set(name, value)
        elif w == "storage":
            storage = ET.Element("storage")
        elif w == "primitive":
            child = ts.next("a primitive id")
            children.append((child.text[3:] if child.text.startswith("id=") else child.text, child))
        elif w == "meta":
            metas.append(ts.attr_set("meta_attributes", ident, stop=_BUNDLE_WORDS))
        else:
            ts.fail(f"unexpected {t.text!r} in bundle {ident}", t, suggest(w, _BUNDLE_WORDS))
    if container is None:
        ts.fail(f"bundle {ident} needs docker, podman or rkt")
    for part in (container, network, storage):
        if part is not None:
            el.append(part)
    el.extend(metas)
    return Parsed("bundle", ident, el, ts.statement, children=children)


# -- constraints ----------------------------------------------------------------------------
@dataclass
class _Item:
    rsc: str
    qual: str | None
    tok: Token


@dataclass
class _Set:
    items: list[_Item]
    bracket: str | None  # None (plain run), "(" or "["
    attrs: dict[str, str]


def _resource_list(ts: TokenStream,
                   options: tuple[str, ...]) -> tuple[list[_Set], bool, dict[str, str]]:
    """Resources with roles/actions, ``( )``/``[ ]`` sets and trailing ``name=value`` options."""
    sets: list[_Set] = []
    opts: dict[str, str] = {}
    forced = False
    current: _Set | None = None
    while not ts.at_end():
        tok = ts.next()
        text = tok.text
        if text == "_rsc_set_":
            forced = True
            continue
        if text in ("(", "[") and not tok.quoted:
            if current is not None and current.bracket:
                ts.fail("resource sets cannot nest", tok)
            current = _Set([], text, {})
            sets.append(current)
            continue
        if text in (")", "]") and not tok.quoted:
            if current is None or current.bracket != {")": "(", "]": "["}[text]:
                ts.fail(f"unbalanced {text!r}", tok)
            current = None
            continue
        if "=" in text:
            name, _, value = text.partition("=")
            if current is not None and current.bracket:
                current.attrs[name] = value
            elif name in options:
                opts[name] = value
            else:
                ts.fail(f"unknown option {name!r}", tok, suggest(name, options))
            continue
        rsc, _, qual = text.partition(":")
        item = _Item(rsc, qual or None, tok)
        if current is None or current.bracket is None and current.items and \
                current.items[-1].qual != item.qual:
            current = _Set([], None, {})
            sets.append(current)
        current.items.append(item)
        if current.bracket is None:
            pass
    if current is not None and current.bracket:
        ts.fail("resource set not closed", None)
    return sets, forced, opts


def _set_elements(ts: TokenStream, cid: str, sets: list[_Set], qual_attr: str) -> list[ET.Element]:
    out = []
    for index, s in enumerate(sets):
        rs = ET.Element("resource_set")
        if s.bracket == "(":
            rs.set("sequential", "false")
        elif s.bracket == "[":
            rs.set("require-all", "false")
            if "sequential" not in s.attrs:
                rs.set("sequential", "false")
        for name, value in s.attrs.items():
            rs.set(name, value)
        quals = {i.qual for i in s.items if i.qual}
        if len(quals) > 1:
            ts.fail("all resources of a set must have the same role/action", s.items[0].tok)
        if quals:
            rs.set(qual_attr, quals.pop())
        rs.set("id", ts.ids.new(f"{cid}-{index}"))
        for item in s.items:
            ET.SubElement(rs, "resource_ref", {"id": item.rsc})
        out.append(rs)
    return out


def _score_token(ts: TokenStream, what: str) -> tuple[str, str]:
    tok = ts.next(f"a {what} ending in ':'")
    if not tok.text.endswith(":"):
        ts.fail(f"expected a {what} ending in ':' (e.g. 'inf:'), got {tok.text!r}", tok)
    raw = tok.text[:-1]
    score = canon_score(raw)
    if score is not None:
        return "score", score
    if what == "kind or score":
        kind = {k.lower(): k for k in ORDER_KINDS}.get(raw.lower())
        if kind is None:
            ts.fail(f"unknown order kind or score {raw!r}", tok,
                    suggest(raw, ORDER_KINDS + SCORE_WORDS), code="invalid-score")
        assert kind is not None
        return "kind", kind
    # Constraints take a score only: score-attribute belongs to rules (the schema says so).
    ts.fail(f"invalid score {raw!r}: expected an integer, inf or -inf", tok,
            suggest_score(raw), code="invalid-score")


def _check_quals(ts: TokenStream, sets: list[_Set], allowed: tuple[str, ...]) -> None:
    for s in sets:
        for item in s.items:
            if item.qual and item.qual not in allowed:
                hit = suggest(item.qual, allowed)
                ts.fail(f"unknown role/action {item.qual!r} for {item.rsc}", item.tok, hit)


def _colocation_or_order(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    is_order = word == "order"
    ident, _ = ts.identifier(f"a {word} id")
    ts.ids.take(ident)
    tag = "rsc_order" if is_order else "rsc_colocation"
    el = ET.Element(tag, {"id": ident})
    tok = ts.peek()
    if tok is not None and tok.text.endswith(":"):
        key, value = _score_token(ts, "kind or score" if is_order else "score")
        if is_order and key == "score":
            # Order scores are deprecated: map them onto kinds as Pacemaker does.
            value = "Optional" if value == "0" else "Mandatory"
            key = "kind"
        el.set(key, value)
    options = ("symmetrical", "require-all") if is_order else ("node-attribute", "influence")
    sets, forced, opts = _resource_list(ts, options)
    _check_quals(ts, sets, ACTIONS if is_order else ROLES)
    items = [i for s in sets for i in s.items]
    if len(items) < 2 and not forced and not any(s.bracket for s in sets):
        ts.fail(f"{word} needs at least two resources")
    plain = not forced and all(s.bracket is None for s in sets) and len(items) == 2
    if plain:
        a, b = items
        if is_order:
            el.set("first", a.rsc)
            if a.qual:
                el.set("first-action", a.qual)
            el.set("then", b.rsc)
            if b.qual:
                el.set("then-action", b.qual)
        else:
            el.set("rsc", a.rsc)
            if a.qual:
                el.set("rsc-role", a.qual)
            el.set("with-rsc", b.rsc)
            if b.qual:
                el.set("with-rsc-role", b.qual)
    else:
        if all(s.bracket is None for s in sets) and len(sets) > 1 and not forced:
            pass
        el.extend(_set_elements(ts, ident, sets, "action" if is_order else "role"))
    for name, value in opts.items():
        el.set(name, value)
    refs = [(i.rsc, i.tok) for i in items]
    return Parsed("order" if is_order else "colocation", ident, el, ts.statement, refs=refs)


def _ticket(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    ident, _ = ts.identifier("a rsc_ticket id")
    ts.ids.take(ident)
    tok = ts.next("a ticket name ending in ':'")
    if not tok.text.endswith(":"):
        ts.fail(f"expected a ticket name ending in ':', got {tok.text!r}", tok)
    el = ET.Element("rsc_ticket", {"id": ident, "ticket": tok.text[:-1]})
    sets, forced, opts = _resource_list(ts, ("loss-policy",))
    _check_quals(ts, sets, ROLES)
    items = [i for s in sets for i in s.items]
    if not items:
        ts.fail("rsc_ticket needs a resource")
    if not forced and len(items) == 1 and sets[0].bracket is None:
        el.set("rsc", items[0].rsc)
        if items[0].qual:
            el.set("rsc-role", items[0].qual)
    else:
        el.extend(_set_elements(ts, ident, sets, "role"))
    for name, value in opts.items():
        el.set(name, value)
    return Parsed("rsc_ticket", ident, el, ts.statement, refs=[(i.rsc, i.tok) for i in items])


def _location(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    ident, _ = ts.identifier("a location id")
    ts.ids.take(ident)
    el = ET.Element("rsc_location", {"id": ident})
    refs: list[tuple[str, Token]] = []
    tok = ts.next("a resource")
    if tok.text == "{" and not tok.quoted:
        rs = ET.Element("resource_set")
        while True:
            member = ts.next("'}'")
            if member.text == "}":
                break
            if "=" in member.text:
                name, _, value = member.text.partition("=")
                rs.set(name, value)
                continue
            ET.SubElement(rs, "resource_ref", {"id": member.text})
            refs.append((member.text, member))
        rs.set("id", ts.ids.new(f"{ident}-0"))
        el.append(rs)
    elif tok.text.startswith("/") and tok.text.endswith("/") and len(tok.text) > 1:
        el.set("rsc-pattern", tok.text[1:-1])
    else:
        el.set("rsc", tok.text)
        refs.append((tok.text, tok))
    saw_pref = False
    while not ts.at_end():
        t = ts.peek()
        assert t is not None
        if t.text.startswith("role=") or t.text.startswith("resource-discovery="):
            ts.pos += 1
            name, _, value = t.text.partition("=")
            el.set(name, value)
        elif t.text.lower() == "rule":
            el.append(ts.rule(ident))
            saw_pref = True
        elif t.text.endswith(":") and not saw_pref:
            key, value = _score_token(ts, "score")
            el.set(key, value)
            node = ts.next("a node name")
            el.set("node", node.text)
            saw_pref = True
        else:
            break
    if not saw_pref:
        ts.fail("location needs '<score>: <node>' or a rule", ts.peek(),
                suggest(ts.peek_text() or "", ("rule",)))
    return Parsed("location", ident, el, ts.statement, refs=refs)


# -- sets of options, tags, acls, fencing, alerts -------------------------------------------
_DEFAULT_SET = {"property": "cib-bootstrap-options", "rsc_defaults": "rsc-options",
                "op_defaults": "op-options"}


def _optset(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    tag = "cluster_property_set" if word == "property" else "meta_attributes"
    set_id = None
    spec = ts.idspec()
    if spec is not None:
        set_id = spec[1]
    tok = ts.peek()
    if set_id is None and tok is not None and tok.text.endswith(":") and \
            canon_score(tok.text[:-1]) is None and not tok.quoted:
        set_id = tok.text[:-1]
        ts.pos += 1
    set_id = set_id or _DEFAULT_SET[word]
    # Updating an existing set re-uses its id; the document merges the nvpairs.
    fresh = not ts.ids.used(set_id)
    el = ts.attr_set(tag, set_id, stop=(), explicit_id=set_id)
    if not fresh:
        el.set("id", set_id)
    return Parsed(word, set_id, el, ts.statement)


def _tag(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    tok = ts.next("a tag id")
    ident = tok.text.rstrip(":")
    ts.ids.take(ident)
    el = ET.Element("tag", {"id": ident})
    refs = []
    while not ts.at_end():
        t = ts.next()
        ET.SubElement(el, "obj_ref", {"id": t.text})
        refs.append((t.text, t))
    if not refs:
        ts.fail(f"tag {ident} needs at least one object")
    return Parsed("tag", ident, el, ts.statement, refs=refs)


def _role(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    ident, _ = ts.identifier("a role id")
    ts.ids.take(ident)
    el = ET.Element("acl_role", {"id": ident})
    _description(ts, el)
    while not ts.at_end():
        kind_tok = ts.next()
        kind = kind_tok.text.lower()
        if kind not in acl.KINDS:
            ts.fail(f"expected read, write or deny, got {kind_tok.text!r}", kind_tok,
                    suggest(kind, acl.KINDS))
        perm = ET.SubElement(el, "acl_permission", {"kind": kind})
        specs = 0
        while not ts.at_end() and (ts.peek_text() or "").lower() not in acl.KINDS:
            spec_tok = ts.next()
            try:
                for name, value in acl.spec_to_attrs(spec_tok.text):
                    perm.set(name, value)
            except ValueError as exc:
                ts.fail(str(exc), spec_tok, suggest(spec_tok.text.split(":")[0], acl.SPEC_WORDS))
            specs += 1
        if not specs:
            ts.fail(f"{kind} needs a specification (xpath:, ref:, type:, attr: or a shortcut)")
        perm.set("id", ts.ids.new(f"{ident}-{kind}"))
    return Parsed("role", ident, el, ts.statement)


def _acl_target(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    tag = "acl_group" if word == "acl_group" else "acl_target"
    ident, _ = ts.identifier("a user id")
    ts.ids.take(ident)
    el = ET.Element(tag, {"id": ident})
    refs = []
    while not ts.at_end():
        t = ts.next()
        name = t.text[5:] if t.text.startswith("role:") else t.text
        ET.SubElement(el, "role", {"id": name})
        refs.append((name, t))
    return Parsed(tag, ident, el, ts.statement, refs=refs)


def _fencing(ts: TokenStream, word: str, _r: Resolver, node_names: list[str]) -> Parsed:
    el = ET.Element("fencing-topology")
    levels: list[tuple[dict[str, str], str]] = []
    target: dict[str, str] | None = None
    refs: list[tuple[str, Token]] = []
    while not ts.at_end():
        t = ts.next()
        if t.text.endswith(":") or t.text.startswith("attr:") or t.text.startswith("pattern:"):
            text = t.text[:-1] if t.text.endswith(":") else t.text
            if text.startswith("attr:"):
                name, _, value = text[5:].partition("=")
                target = {"target-attribute": name, "target-value": value}
            elif text.startswith("pattern:"):
                target = {"target-pattern": text[8:]}
            else:
                target = {"target": text}
            continue
        if target is None:
            for node in node_names:
                levels.append(({"target": node}, t.text))
        else:
            levels.append((target, t.text))
        refs.extend((d, t) for d in t.text.split(","))
    if not levels:
        ts.fail("fencing_topology needs '<node>: <device>[,<device>]...' levels")
    index: dict[tuple[tuple[str, str], ...], int] = {}
    for tgt, devices in levels:
        key = tuple(sorted(tgt.items()))
        index[key] = index.get(key, 0) + 1
        lvl = ET.SubElement(el, "fencing-level", {"id": ts.ids.new("fencing")})
        for name, value in tgt.items():
            lvl.set(name, value)
        lvl.set("index", str(index[key]))
        lvl.set("devices", devices)
    return Parsed("fencing_topology", "fencing_topology", el, ts.statement, refs=refs)


def _alert(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    ident, _ = ts.identifier("an alert id")
    ts.ids.take(ident)
    path = ts.next("the alert agent path")
    el = ET.Element("alert", {"id": ident, "path": path.text})
    _description(ts, el)
    words = ("attributes", "meta", "select", "to")
    sets: list[ET.Element] = []
    select: ET.Element | None = None
    recipients: list[ET.Element] = []
    while not ts.at_end():
        t = ts.next()
        w = t.text.lower()
        if w in ("attributes", "meta"):
            sets.append(ts.attr_set(SET_TAGS[w], ident, stop=words))
        elif w == "select":
            select = ET.Element("select")
            while (ts.peek_text() or "") in ("fencing", "nodes", "resources", "attributes"):
                kind = ts.next().text
                sub = ET.SubElement(select, f"select_{kind}")
                if kind == "attributes" and ts.peek_text() == "{":
                    ts.pos += 1
                    while True:
                        a = ts.next("'}'")
                        if a.text == "}":
                            break
                        ET.SubElement(sub, "attribute", {
                            "id": ts.ids.new(f"{ident}-select_attributes-{a.text}"),
                            "name": a.text})
        elif w == "to":
            braced = ts.accept("{") is not None
            value = ts.next("a recipient")
            rcpt = ET.Element("recipient", {"id": ts.ids.new(f"{ident}-recipient"),
                                            "value": value.text})
            rsets = []
            while (ts.peek_text() or "").lower() in ("attributes", "meta"):
                kw = ts.next().text.lower()
                rsets.append(ts.attr_set(SET_TAGS[kw], rcpt.get("id", ident),
                                         stop=words + ("}",)))
            rcpt.extend(sorted(rsets, key=lambda s: s.tag != "meta_attributes"))
            if braced:
                ts.expect("}")
            recipients.append(rcpt)
        else:
            ts.fail(f"unexpected {t.text!r} in alert {ident}", t, suggest(w, words))
    el.extend(sorted(sets, key=lambda s: s.tag != "meta_attributes"))
    if select is not None:
        el.append(select)
    el.extend(recipients)
    return Parsed("alert", ident, el, ts.statement)


def _monitor(ts: TokenStream, word: str, _r: Resolver, _n: list[str]) -> Parsed:
    rtok = ts.next("a resource")
    rsc, _, role = rtok.text.partition(":")
    spec = ts.next("interval[:timeout]")
    interval, _, timeout = spec.text.partition(":")
    op = ET.Element("op", {"name": "monitor"})
    if role:
        op.set("role", role)
    op.set("interval", canon_interval(interval))
    if timeout:
        op.set("timeout", timeout)
    op.set("id", ts.ids.new(f"{rsc}-monitor-{canon_interval(interval)}"))
    return Parsed("monitor", rsc, op, ts.statement, target=(rsc, rtok))


_HANDLERS: dict[str, Callable[[TokenStream, str, Resolver, list[str]], Parsed]] = {
    "node": _node,
    "primitive": _primitive,
    "rsc_template": _primitive,
    "template": _primitive,
    "group": _container,
    "clone": _container,
    "ms": _container,
    "master": _container,
    "bundle": _bundle,
    "location": _location,
    "colocation": _colocation_or_order,
    "collocation": _colocation_or_order,
    "order": _colocation_or_order,
    "rsc_ticket": _ticket,
    "property": _optset,
    "rsc_defaults": _optset,
    "op_defaults": _optset,
    "tag": _tag,
    "role": _role,
    "acl_target": _acl_target,
    "user": _acl_target,
    "acl_group": _acl_target,
    "fencing_topology": _fencing,
    "alert": _alert,
    "monitor": _monitor,
}
