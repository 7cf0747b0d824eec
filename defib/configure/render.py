"""Render CIB XML as configure text in crmsh's ``show`` format.

Each object is one statement; its parts are joined with `` \\`` + newline + tab, as crmsh does.
Ids are written (``$id=``) only where the parser would not derive the same id by itself, so
``parse(render(cib))`` gives the same CIB back.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defib.configure import acl
from defib.configure.syntax import cli_score

KIND_ORDER = (
    "node", "rsc_template", "primitive", "group", "clone", "ms", "bundle", "tag", "colocation",
    "location", "order", "rsc_ticket", "fencing_topology", "property", "rsc_defaults",
    "op_defaults", "role", "acl_target", "acl_group", "alert",
)
_EXPRESSIONS = ("expression", "date_expression", "op_expression", "rsc_expression")
_SAFE = re.compile(r"^[A-Za-z0-9_.:#@/+%-]+$")
_WORDS = {"and", "or", "rule", "(", ")", "[", "]", "{", "}", "_rsc_set_"}


@dataclass(frozen=True)
class CliObject:
    kind: str
    ident: str
    element: ET.Element


def quote(value: str) -> str:
    if _SAFE.match(value) and value.lower() not in _WORDS:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _derived(ident: str | None, base: str) -> bool:
    """True when ``ident`` is what the parser generates from ``base`` (base, base-0, base-1...)."""
    if ident is None:
        return True
    return ident == base or re.fullmatch(re.escape(base) + r"-\d+", ident) is not None


def _lines(parts: list[str]) -> str:
    return " \\\n\t".join(p for p in parts if p)


# -- attribute sets and rules ----------------------------------------------------------------
def nvpair(nv: ET.Element, set_id: str) -> str:
    if nv.get("id-ref"):
        return "@" + nv.get("id-ref", "") + (":" + nv.get("name", "") if nv.get("name") else "")
    name = nv.get("name", "")
    text = f"{name}={quote(nv.get('value', ''))}"
    if not _derived(nv.get("id"), f"{set_id}-{name}"):
        text = f"${nv.get('id')}:{text}"
    return text


def expression(el: ET.Element) -> str:
    if el.tag == "date_expression":
        op = el.get("operation", "")
        if op in ("lt", "gt"):
            return f"date {op} {quote(el.get('end' if op == 'lt' else 'start', ''))}"
        words = ["date", {"in_range": "in", "date_spec": "spec"}.get(op, op)]
        for name in ("start", "end"):
            if el.get(name) is not None:
                words.append(f"{name}={quote(el.get(name, ''))}")
        for child in el:
            if child.tag in ("duration", "date_spec"):
                words.extend(f"{k}={quote(v)}" for k, v in child.attrib.items() if k != "id")
        return " ".join(words)
    if el.tag == "op_expression":
        interval = f" interval={el.get('interval')}" if el.get("interval") else ""
        return f"op {el.get('name')}{interval}"
    if el.tag == "rsc_expression":
        return "resource " + ":".join(el.get(k, "") for k in ("class", "provider", "type"))
    op = el.get("operation", "")
    if el.get("type"):
        op = f"{el.get('type')}:{op}"
    if el.get("value") is None:
        return f"{op} {el.get('attribute')}"
    value = quote(el.get("value", ""))
    src = el.get("value-source")
    if src and src != "literal":
        value = f"{src}{{{el.get('value')}}}"
    return f"{el.get('attribute')} {op} {value}"


def rule(el: ET.Element, parent_id: str) -> str:
    if el.get("id-ref"):
        return f"rule $id-ref={el.get('id-ref')}"
    words = ["rule"]
    if not _derived(el.get("id"), f"{parent_id}-rule"):
        words.append(f"$id={el.get('id')}")
    if el.get("role"):
        words.append(f"$role={el.get('role')}")
    if el.get("score") is not None and el.get("score") != "INFINITY":
        words.append(cli_score(el.get("score", "")) + ":")
    elif el.get("score-attribute"):
        words.append(el.get("score-attribute", "") + ":")
    words.append(_exprs(el))
    return " ".join(words)


def _exprs(el: ET.Element) -> str:
    parts = []
    for c in el:
        if c.tag in _EXPRESSIONS:
            parts.append(expression(c))
        elif c.tag == "rule":
            inner = ["("]
            if not _derived(c.get("id"), f"{el.get('id')}-rule"):
                inner.append(f"$id={c.get('id')}")
            if c.get("score") not in (None, "INFINITY"):
                inner.append(cli_score(c.get("score", "")) + ":")
            parts.append(" ".join(inner + [_exprs(c), ")"]))
    return f" {el.get('boolean-op', 'and')} ".join(parts)


def attr_set(keyword: str, el: ET.Element, owner: str, suffix: str | None = None) -> str:
    if el.get("id-ref"):
        return f"{keyword} $id-ref={el.get('id-ref')}"
    words = [keyword]
    set_id = el.get("id", "")
    if not _derived(set_id, f"{owner}-{suffix or el.tag}"):
        words.append(f"$id={set_id}")
    if el.get("score") is not None:
        words.append(cli_score(el.get("score", "")) + ":")
    words.extend(rule(r, set_id) for r in el.findall("rule"))
    words.extend(nvpair(nv, set_id) for nv in el.findall("nvpair"))
    return " ".join(words)


_SET_KEYWORD = {"instance_attributes": "params", "meta_attributes": "meta",
                "utilization": "utilization"}


# -- objects ---------------------------------------------------------------------------------
def _agent(el: ET.Element) -> str:
    if el.get("template"):
        return "@" + el.get("template", "")
    cls, prov, typ = el.get("class", ""), el.get("provider"), el.get("type", "")
    if cls == "ocf" and prov == "heartbeat":
        return typ
    return ":".join(x for x in (cls, prov, typ) if x)


def _description(el: ET.Element) -> str:
    return f"description={quote(el.get('description', ''))}" if el.get("description") else ""


def _primitive(el: ET.Element, kind: str) -> str:
    ident = el.get("id", "")
    parts = [f"{kind} {ident} {_agent(el)}" + (" " + _description(el) if el.get("description")
                                              else "")]
    for child in el:
        if child.tag in _SET_KEYWORD:
            parts.append(attr_set(_SET_KEYWORD[child.tag], child, ident))
    ops = el.find("operations")
    if ops is not None:
        if ops.get("id"):
            parts.append(f"operations $id={ops.get('id')}")
        elif ops.get("id-ref"):
            parts.append(f"operations $id-ref={ops.get('id-ref')}")
        elif not len(ops):
            parts.append("operations")
        for op in ops.findall("op"):
            parts.extend(_op(op, ops.get("id") or ident, ident))
    return _lines(parts)


def _op(op: ET.Element, base: str, owner: str) -> list[str]:
    name = op.get("name", "")
    words = ["op", name]
    op_id = op.get("id", "")
    for key, value in op.attrib.items():
        if key in ("name", "id"):
            continue
        words.append(f"{key}={quote(value)}")
    interval = op.get("interval", "0s")
    if not _derived(op_id, f"{base}-{name}-{interval}") and \
            not _derived(op_id, f"{owner}-{name}-{interval}"):
        words.insert(2, f"id={op_id}")
    parts = [" ".join(words)]
    for child in op:
        keyword = {"instance_attributes": "op_params", "meta_attributes": "op_meta"}.get(child.tag)
        if keyword:
            parts.append(attr_set(keyword, child, op_id))
    return parts


def _container(el: ET.Element) -> str:
    kind = {"master": "ms"}.get(el.tag, el.tag)
    ident = el.get("id", "")
    kids = [c.get("id", "") for c in el if c.tag in ("primitive", "group")]
    head = f"{kind} {ident} {' '.join(kids)}"
    if el.get("description"):
        head += " " + _description(el)
    parts = [head]
    for child in el:
        if child.tag in ("instance_attributes", "meta_attributes"):
            parts.append(attr_set(_SET_KEYWORD[child.tag], child, ident))
    return _lines(parts)


def _bundle(el: ET.Element) -> str:
    ident = el.get("id", "")
    parts = [f"bundle {ident}" + (" " + _description(el) if el.get("description") else "")]
    for child in el:
        attrs = " ".join(f"{k}={quote(v)}" for k, v in child.attrib.items() if k != "id")
        if child.tag in ("docker", "podman", "rkt"):
            parts.append(f"{child.tag} {attrs}".strip())
        elif child.tag in ("network", "storage"):
            parts.append(f"{child.tag} {attrs}".strip())
            for m in child:
                mattrs = " ".join(f"{k}={quote(v)}" for k, v in m.attrib.items())
                parts.append(f"\t{m.tag} {mattrs}")
        elif child.tag == "primitive":
            parts.append(f"primitive {child.get('id')}")
        elif child.tag == "meta_attributes":
            parts.append(attr_set("meta", child, ident))
    return _lines(parts)


def _rsc_sets(el: ET.Element, kind: str) -> list[str]:
    words: list[str] = []
    sets = el.findall("resource_set")
    qual_key = "action" if kind == "order" else "role"
    prev_plain_qual: tuple[bool, str | None] = (False, None)
    count = 0
    all_plain = True
    for rs in sets:
        seq = rs.get("sequential")
        req = rs.get("require-all")
        qual = rs.get(qual_key)
        extra = [f"{k}={quote(v)}" for k, v in rs.attrib.items()
                 if k not in ("id", "sequential", "require-all", qual_key)]
        refs = [r.get("id", "") for r in rs.findall("resource_ref")]
        count += len(refs)
        items = [f"{r}:{qual}" if qual else r for r in refs]
        if req == "false":
            all_plain = False
            # "[ a b ]" means sequential=false too; the default (true) must be spelt out.
            inner = items + ([f"sequential={seq or 'true'}"] if seq != "false" else []) + extra
            words.extend(["[", *inner, "]"])
            prev_plain_qual = (False, None)
        elif seq == "false" or extra or (prev_plain_qual == (True, qual)):
            all_plain = False
            # A sequential set in parentheses must say so: "( a b )" means sequential=false.
            inner = items + ([f"sequential={seq or 'true'}"] if seq != "false" else []) + extra
            if req is not None:
                inner.append(f"require-all={req}")
            words.extend(["(", *inner, ")"])
            prev_plain_qual = (False, None)
        else:
            words.extend(items)
            prev_plain_qual = (True, qual)
    limit = 1 if kind == "rsc_ticket" else 2
    if all_plain and count <= limit:
        words.insert(0, "_rsc_set_")
    return words


def _constraint(el: ET.Element, kind: str) -> str:
    ident = el.get("id", "")
    words = [kind, ident]
    if kind == "location":
        if el.get("rsc"):
            words.append(el.get("rsc", ""))
        elif el.get("rsc-pattern"):
            words.append(f"/{el.get('rsc-pattern')}/")
        else:
            rs = el.find("resource_set")
            inner = [r.get("id", "") for r in rs.findall("resource_ref")] if rs is not None else []
            if rs is not None:
                inner += [f"{k}={quote(v)}" for k, v in rs.attrib.items() if k != "id"]
            words.extend(["{", *inner, "}"])
        for key in ("role", "resource-discovery"):
            if el.get(key):
                words.append(f"{key}={el.get(key)}")
        if el.get("node"):
            score = el.get("score") or el.get("score-attribute") or "0"
            words.append(f"{cli_score(score)}: {el.get('node')}")
            return " ".join(words)
        return _lines([" ".join(words)] + [rule(r, ident) for r in el.findall("rule")])
    if kind == "rsc_ticket":
        words.append(f"{el.get('ticket')}:")
    elif el.get("kind"):
        words.append(f"{el.get('kind')}:")
    elif el.get("score") is not None:
        words.append(f"{cli_score(el.get('score', ''))}:")
    elif el.get("score-attribute"):
        words.append(f"{el.get('score-attribute')}:")
    if el.find("resource_set") is not None:
        words.extend(_rsc_sets(el, kind))
    else:
        pairs = {"colocation": (("rsc", "rsc-role"), ("with-rsc", "with-rsc-role")),
                 "order": (("first", "first-action"), ("then", "then-action")),
                 "rsc_ticket": (("rsc", "rsc-role"),)}[kind]
        for attr, qual in pairs:
            words.append(el.get(attr, "") + (f":{el.get(qual)}" if el.get(qual) else ""))
    for key in ("symmetrical", "require-all", "node-attribute", "influence", "loss-policy"):
        if el.get(key) is not None:
            words.append(f"{key}={quote(el.get(key, ''))}")
    return " ".join(words)


def _optset(el: ET.Element, kind: str) -> str:
    set_id = el.get("id", "")
    parts = [f"{kind} {set_id}:" if _SAFE.match(set_id) else f"{kind} $id={quote(set_id)}"]
    if el.get("score") is not None:
        parts.append(cli_score(el.get("score", "")) + ":")
    parts.extend(rule(r, set_id) for r in el.findall("rule"))
    parts.extend(nvpair(nv, set_id) for nv in el.findall("nvpair"))
    return _lines(parts)


def _role(el: ET.Element) -> str:
    ident = el.get("id", "")
    parts = [f"role {ident}" + (" " + _description(el) if el.get("description") else "")]
    for perm in el.findall("acl_permission"):
        words = [perm.get("kind", "")]
        if perm.get("description"):
            words.append(f"description={quote(perm.get('description', ''))}")
        if perm.get("xpath") is not None:
            short = acl.xpath_to_spec(perm.get("xpath", ""))
            words.append(short or 'xpath:"' + perm.get("xpath", "").replace('"', '\\"') + '"')
        if perm.get("reference"):
            words.append(f"ref:{perm.get('reference')}")
        if perm.get("attribute"):
            words.append(f"attr:{perm.get('attribute')}")
        if perm.get("object-type"):
            words.append(f"type:{perm.get('object-type')}")
        parts.append(" ".join(words))
    return _lines(parts)


def _fencing(el: ET.Element) -> str:
    parts = ["fencing_topology"]
    order: list[str] = []
    levels: dict[str, list[tuple[int, str]]] = {}
    for lvl in el.findall("fencing-level"):
        if lvl.get("target"):
            target = f"{lvl.get('target')}:"
        elif lvl.get("target-pattern"):
            target = f"pattern:{lvl.get('target-pattern')}"
        else:
            target = f"attr:{lvl.get('target-attribute')}={lvl.get('target-value')}"
        if target not in levels:
            order.append(target)
            levels[target] = []
        levels[target].append((int(lvl.get("index", "0")), lvl.get("devices", "")))
    for target in order:
        parts.append(" ".join([target] + [d for _, d in sorted(levels[target])]))
    return _lines(parts)


def _alert(el: ET.Element) -> str:
    ident = el.get("id", "")
    parts = [f"alert {ident} \"{el.get('path', '')}\""
             + (" " + _description(el) if el.get("description") else "")]
    for child in el:
        if child.tag in ("instance_attributes", "meta_attributes"):
            kw = "attributes" if child.tag == "instance_attributes" else "meta"
            parts.append(attr_set(kw, child, ident))
        elif child.tag == "select":
            words = ["select"]
            for sel in child:
                kind = sel.tag.replace("select_", "")
                words.append(kind)
                names = [a.get("name", "") for a in sel.findall("attribute")]
                if names:
                    words.extend(["{", *names, "}"])
            parts.append(" ".join(words))
        elif child.tag == "recipient":
            rid = child.get("id", "")
            sets = [attr_set("attributes" if s.tag == "instance_attributes" else "meta", s, rid)
                    for s in child if s.tag in ("instance_attributes", "meta_attributes")]
            value = quote(child.get("value", ""))
            parts.append(f"to {{ {value} {' '.join(sets)} }}" if sets else f"to {value}")
    return _lines(parts)


def render_object(obj: CliObject) -> str:
    el, kind = obj.element, obj.kind
    if kind == "node":
        uname = el.get("uname") or el.get("id", "")
        head = "node " + ("" if el.get("id") == uname else f"{el.get('id')}: ") + str(uname)
        if el.get("type"):
            head += f":{el.get('type')}"
        if el.get("description"):
            head += " " + _description(el)
        parts = [head]
        for child in el:
            kw = {"instance_attributes": "attributes", "utilization": "utilization"}.get(child.tag)
            if kw:
                parts.append(attr_set(kw, child, el.get("id", "")))
        return _lines(parts)
    if kind in ("primitive", "rsc_template"):
        return _primitive(el, kind)
    if kind in ("group", "clone", "ms"):
        return _container(el)
    if kind == "bundle":
        return _bundle(el)
    if kind in ("location", "colocation", "order", "rsc_ticket"):
        return _constraint(el, kind)
    if kind in ("property", "rsc_defaults", "op_defaults"):
        return _optset(el, kind)
    if kind == "tag":
        return " ".join(["tag", obj.ident] + [r.get("id", "") for r in el.findall("obj_ref")])
    if kind == "role":
        return _role(el)
    if kind in ("acl_target", "acl_group"):
        return _lines([f"{kind} {obj.ident}"] + [r.get("id", "") for r in el.findall("role")])
    if kind == "fencing_topology":
        return _fencing(el)
    if kind == "alert":
        return _alert(el)
    raise ValueError(f"cannot render {kind}")


_TAG_KIND = {"primitive": "primitive", "template": "rsc_template", "group": "group",
             "clone": "clone", "master": "ms", "bundle": "bundle", "rsc_location": "location",
             "rsc_colocation": "colocation", "rsc_order": "order", "rsc_ticket": "rsc_ticket",
             "tag": "tag", "acl_role": "role", "acl_target": "acl_target",
             "acl_group": "acl_group", "alert": "alert"}


def objects(conf: ET.Element, sort: bool = True) -> list[CliObject]:
    """Every object of a ``<configuration>``, in crmsh's show order."""
    found: list[CliObject] = []
    for section in conf:
        if section.tag == "nodes":
            found.extend(CliObject("node", n.get("uname") or n.get("id") or "", n) for n in section)
        elif section.tag == "resources":
            for el in section.iter():
                if el.tag in _TAG_KIND and el.get("id"):
                    found.append(CliObject(_TAG_KIND[el.tag], el.get("id", ""), el))
        elif section.tag in ("constraints", "tags", "acls", "alerts"):
            found.extend(CliObject(_TAG_KIND[el.tag], el.get("id", ""), el)
                         for el in section if el.tag in _TAG_KIND)
        elif section.tag == "fencing-topology" and len(section):
            found.append(CliObject("fencing_topology", "fencing_topology", section))
        elif section.tag in ("crm_config", "rsc_defaults", "op_defaults"):
            kind = {"crm_config": "property"}.get(section.tag, section.tag)
            found.extend(CliObject(kind, el.get("id", ""), el) for el in section)
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    if sort:
        found.sort(key=lambda o: (rank.get(o.kind, 99), o.ident))
    else:
        found.sort(key=lambda o: rank.get(o.kind, 99))
    return found


def _refs(obj: CliObject) -> set[str]:
    el = obj.element
    names = {el.get(a, "") for a in ("rsc", "with-rsc", "first", "then")}
    names |= {r.get("id", "") for r in el.iter() if r.tag in ("resource_ref", "obj_ref")}
    names |= {c.get("id", "") for c in el if c.tag in _TAG_KIND}
    names.discard("")
    return names


def select(objs: list[CliObject], terms: list[str]) -> list[CliObject]:
    """crmsh's show selection: ids, ``type:<kind>``, ``tag:<tag>``, ``related:<id>``,
    combined left to right with ``and`` / ``or`` (plain lists mean ``or``)."""
    def match(term: str) -> set[int]:
        word, _, arg = term.partition(":")
        if word == "type" and arg:
            return {i for i, o in enumerate(objs) if o.kind == arg}
        if word == "tag" and arg:
            tagged = {r for o in objs if o.kind == "tag" and o.ident == arg for r in _refs(o)}
            return {i for i, o in enumerate(objs) if o.ident in tagged}
        if word == "related" and arg:
            return {i for i, o in enumerate(objs) if o.ident == arg or arg in _refs(o)}
        return {i for i, o in enumerate(objs) if o.ident == term or o.kind == term}

    chosen: set[int] | None = None
    op = "or"
    for term in terms:
        if term in ("and", "or"):
            op = term
            continue
        hit = match(term)
        chosen = hit if chosen is None else (chosen & hit if op == "and" else chosen | hit)
        op = "or"
    return [o for i, o in enumerate(objs) if chosen and i in chosen]


def render(conf: ET.Element, idents: list[str] | None = None, sort: bool = True) -> str:
    objs = objects(conf, sort)
    if idents:
        objs = select(objs, idents)
    return "".join(render_object(o) + "\n" for o in objs)
