"""A CIB document edited object by object: place parsed statements, delete, rename.

Works on ``xml.etree.ElementTree`` (pacemaker-3.x schema names). Every change method returns
human-readable notes (what else it had to change) or raises ``ConfigError``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from defib.configure.ids import IdAllocator
from defib.configure.parser import Parsed
from defib.configure.report import Problem
from defib.errors import CibParseError

SECTIONS = ("crm_config", "nodes", "resources", "constraints", "fencing-topology",
            "op_defaults", "rsc_defaults", "acls", "tags", "alerts")
RESOURCE_TAGS = ("primitive", "template", "group", "clone", "master", "bundle")
CONSTRAINT_TAGS = ("rsc_location", "rsc_colocation", "rsc_order", "rsc_ticket")
_REF_ATTRS = {"rsc_location": ("rsc",), "rsc_colocation": ("rsc", "with-rsc"),
              "rsc_order": ("first", "then"), "rsc_ticket": ("rsc",)}
_OPTSET_SECTION = {"property": "crm_config", "rsc_defaults": "rsc_defaults",
                   "op_defaults": "op_defaults"}


def empty_cib() -> ET.Element:
    cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "epoch": "0",
                             "num_updates": "0", "admin_epoch": "0"})
    conf = ET.SubElement(cib, "configuration")
    for name in ("crm_config", "nodes", "resources", "constraints"):
        ET.SubElement(conf, name)
    ET.SubElement(cib, "status")
    return cib


# The feature set of Pacemaker 2.1.5's tools (crm_simulate --version is 2.1.5 and says
# "greater than our own '3.16.1'"): a CIB whose root declares a newer one is read, but every
# change to it is discarded, and crm_simulate aborts at the first simulated action.
FEATURE_SET = "3.16.1"


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return (99,)


def for_pacemaker(root: ET.Element) -> ET.Element:
    """A CIB as Pacemaker's own tools will read it: a feature set on the root they know
    (history entries keep theirs: only the root's is compared)."""
    current = root.get("crm_feature_set")
    if current is None or _version(current) > _version(FEATURE_SET):
        root.set("crm_feature_set", FEATURE_SET)
    return root


def parse_cib(xml: str) -> ET.Element:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise CibParseError(f"CIB is not well-formed XML: {exc}") from exc
    if root.tag != "cib":
        raise CibParseError(f"root element is <{root.tag}>, expected <cib>")
    if root.find("configuration") is None:
        raise CibParseError("CIB has no <configuration>")
    return root


class CibDoc:
    def __init__(self, root: ET.Element | None = None) -> None:
        self.root = root if root is not None else empty_cib()
        conf = self.root.find("configuration")
        if conf is None:
            conf = ET.SubElement(self.root, "configuration")
        self.conf = conf

    # -- lookup ---------------------------------------------------------------------------
    def section(self, name: str, create: bool = True) -> ET.Element:
        el = self.conf.find(name)
        if el is None:
            el = ET.Element(name)
            if create:
                self.conf.append(el)
        return el

    def parents(self) -> dict[ET.Element, ET.Element]:
        return {child: parent for parent in self.conf.iter() for child in parent}

    def find(self, ident: str) -> ET.Element | None:
        """The element with this id; a node only when nothing else has it."""
        node = None
        for el in self.conf.iter():
            if el.get("id") == ident:
                if el.tag != "node":
                    return el
                node = node if node is not None else el
        return node

    def resources(self) -> Iterator[ET.Element]:
        res = self.conf.find("resources")
        if res is None:
            return
        for el in res.iter():
            if el.tag in RESOURCE_TAGS and el.get("id"):
                yield el

    def resource(self, ident: str) -> ET.Element | None:
        return next((r for r in self.resources() if r.get("id") == ident), None)

    def node_names(self) -> list[str]:
        return [n.get("uname") or n.get("id") or "" for n in self.section("nodes", False)]

    def ids(self) -> IdAllocator:
        return IdAllocator.for_tree(self.conf)

    def resolve_ops(self, tag: str, ref: str) -> str:
        """crmsh lets ``operations $id-ref=`` name a primitive (meaning its operations) and
        ``rule $id-ref=`` name a location (meaning its rule)."""
        el = self.find(ref)
        if el is not None and el.tag != tag:
            child = el.find(tag)
            if child is not None and child.get("id"):
                return child.get("id", ref)
        return ref

    # -- placing parsed statements ---------------------------------------------------------
    def apply(self, p: Parsed, interactive: bool = False) -> tuple[list[str], list[Problem]]:
        """Place one parsed statement. Returns (notes, problems)."""
        notes: list[str] = []
        kind = p.kind
        loc = p.statement.tokens[0].location
        if kind in _OPTSET_SECTION:
            return self._merge_optset(p), []
        if kind == "monitor":
            rsc = self.resource(p.ident)
            if rsc is None or rsc.tag != "primitive":
                tok = p.target[1] if p.target else None
                return [], [Problem("missing-resource", f"monitor: no primitive {p.ident!r}",
                                    tok.location if tok else loc, ident=p.ident)]
            ops = rsc.find("operations")
            if ops is None:
                ops = ET.SubElement(rsc, "operations")
            ops.append(p.element)
            return [], []
        if kind == "fencing_topology":
            old = self.conf.find("fencing-topology")
            if old is not None:
                self.conf.remove(old)
            self.conf.append(p.element)
            return [], []
        existing = self.find(p.ident)
        if existing is not None and (existing.tag == "node") != (kind == "node"):
            existing = None  # node ids live in their own namespace (not xsd:ID)
        if existing is not None:
            return [], [Problem("duplicate-id", f"id {p.ident!r} is already in use", loc,
                                ident=p.ident)]
        if kind == "node":
            self.section("nodes").append(p.element)
        elif kind in ("primitive", "template"):
            self.section("resources").append(p.element)
        elif kind in ("group", "clone", "master", "bundle"):
            problems = self._adopt(p, notes, interactive)
            if problems:
                return [], problems
        elif kind in ("location", "colocation", "order", "rsc_ticket"):
            self.section("constraints").append(p.element)
        elif kind == "tag":
            self.section("tags").append(p.element)
        elif kind in ("role", "acl_target", "acl_group"):
            self.section("acls").append(p.element)
        elif kind == "alert":
            self.section("alerts").append(p.element)
        return notes, []

    def _merge_optset(self, p: Parsed) -> list[str]:
        section = self.section(_OPTSET_SECTION[p.kind])
        existing = next((s for s in section if s.get("id") == p.ident), None)
        if existing is None:
            section.append(p.element)
            return []
        for nv in p.element.findall("nvpair"):
            old = next((o for o in existing.findall("nvpair")
                        if o.get("name") == nv.get("name")), None)
            if old is not None:
                old.set("value", nv.get("value", ""))
            else:
                nv.set("id", self.ids().new(f"{p.ident}-{nv.get('name')}"))
                existing.append(nv)
        for rule in p.element.findall("rule"):
            existing.insert(0, rule)
        return []

    def _adopt(self, p: Parsed, notes: list[str], interactive: bool) -> list[Problem]:
        parents = self.parents()
        resources = self.section("resources")
        kids: list[ET.Element] = []
        problems: list[Problem] = []
        for ident, tok in p.children:
            child = self.resource(ident)
            if child is None:
                hint = _close([r.get("id", "") for r in self.resources()], ident)
                problems.append(Problem("missing-resource",
                                        f"{p.kind} {p.ident} refers to missing resource {ident!r}",
                                        tok.location, hint, ident))
                continue
            parent = parents.get(child)
            if parent is not None and parent is not resources:
                problems.append(Problem(
                    "already-contained",
                    f"cannot create {p.kind} {p.ident}: {child.tag} {ident} is already in "
                    f"{parent.tag} {parent.get('id')}", tok.location, ident=ident))
                continue
            if p.kind == "group" and child.tag != "primitive":
                problems.append(Problem("bad-child", f"a group may contain only primitives; "
                                        f"{ident} is {child.tag}", tok.location, ident=ident))
                continue
            if p.kind == "bundle" and child.tag != "primitive":
                problems.append(Problem("bad-child", f"a bundle may contain only a primitive; "
                                        f"{ident} is {child.tag}", tok.location, ident=ident))
                continue
            if child in kids:
                problems.append(Problem("duplicate-child",
                                        f"{ident} listed more than once in {p.ident}",
                                        tok.location, ident=ident))
                continue
            kids.append(child)
        if problems:
            return problems
        index = list(resources).index(kids[0]) if kids else len(resources)
        for child in kids:
            resources.remove(child)
        if p.kind == "bundle":
            pos = len([c for c in p.element if c.tag != "meta_attributes"])
            for child in kids:
                p.element.insert(pos, child)
        else:
            p.element.extend(kids)
        resources.insert(min(index, len(resources)), p.element)
        if interactive:
            for child in kids:
                notes.extend(self._repoint(child.get("id", ""), p.ident))
        return []

    # -- references -------------------------------------------------------------------------
    def _repoint(self, old: str, new: str) -> list[str]:
        notes = []
        for con in self.section("constraints", False):
            changed = False
            for attr in _REF_ATTRS.get(con.tag, ()):
                if con.get(attr) == old:
                    con.set(attr, new)
                    changed = True
            for ref in con.iter("resource_ref"):
                if ref.get("id") == old:
                    ref.set("id", new)
                    changed = True
            if changed:
                notes.append(f"modified {_cli_kind(con.tag)}:{con.get('id')} from {old} to {new}")
        return notes

    def rename(self, old: str, new: str) -> list[str]:
        el = self.find(old)
        if el is None:
            raise _unknown(old, self.conf)
        if self.find(new) is not None:
            from defib.errors import ConfigError
            raise ConfigError(f"id {new!r} is already in use", new)
        el.set("id", new)
        # Ids derived from the old id (p1-instance_attributes ...) follow the rename.
        used = {e.get("id") for e in self.conf.iter() if e.get("id")}
        for sub in el.iter():
            sid = sub.get("id", "")
            if sub is not el and sid.startswith(old + "-") and \
                    (new + sid[len(old):]) not in used and sub.tag not in RESOURCE_TAGS:
                sub.set("id", new + sid[len(old):])
        notes = self._repoint(old, new)
        for tag in self.section("tags", False):
            for ref in tag.findall("obj_ref"):
                if ref.get("id") == old:
                    ref.set("id", new)
                    notes.append(f"modified tag:{tag.get('id')} from {old} to {new}")
        for target in self.section("acls", False):
            for role in target.findall("role"):
                if role.get("id") == old:
                    role.set("id", new)
        return notes

    def delete(self, idents: list[str]) -> list[str]:
        notes: list[str] = []
        for ident in idents:
            if self.find(ident) is None:
                raise _unknown(ident, self.conf)
        # Outer containers first, as crmsh: their constraints move to what they contained.
        rank = {"clone": 0, "master": 0, "bundle": 0, "group": 1}
        ordered = sorted(idents, key=lambda i: rank.get(getattr(self.find(i), "tag", ""), 2))
        for ident in ordered:
            el = self.find(ident)
            if el is None:
                continue
            notes.extend(self._delete_one(el))
        return notes

    def _delete_one(self, el: ET.Element) -> list[str]:
        ident = el.get("id", "")
        parents = self.parents()
        parent = parents.get(el)
        notes: list[str] = []
        if parent is None:
            return notes
        if el.tag in ("group", "clone", "master") and len(el.findall("./*[@id]")):
            kids = [c for c in el if c.tag in RESOURCE_TAGS]
            index = list(parent).index(el)
            parent.remove(el)
            if parent.tag in ("clone", "master"):
                # The clone of a deleted group is left empty: it goes too, children move up.
                grand = parents.get(parent)
                notes.extend(self._repoint(parent.get("id", ""), ident))
                if grand is not None:
                    gi = list(grand).index(parent)
                    grand.remove(parent)
                    for k, child in enumerate(kids):
                        grand.insert(gi + k, child)
                    parent = grand
            else:
                for k, child in enumerate(kids):
                    parent.insert(index + k, child)
            if kids:
                notes.extend(self._repoint(ident, kids[0].get("id", "")))
            return notes
        parent.remove(el)
        if el.tag in RESOURCE_TAGS:
            notes.extend(self._drop_references(ident))
            if parent.tag in ("group", "clone", "master") and not \
                    [c for c in parent if c.tag in RESOURCE_TAGS]:
                notes.extend(self._delete_one(parent))
        return notes

    def _drop_references(self, ident: str) -> list[str]:
        notes: list[str] = []
        constraints = self.section("constraints", False)
        for con in list(constraints):
            if any(con.get(a) == ident for a in _REF_ATTRS.get(con.tag, ())):
                constraints.remove(con)
                notes.append(f"hanging {_cli_kind(con.tag)}:{con.get('id')} deleted")
                continue
            sets = con.findall("resource_set")
            if not sets:
                continue
            changed = False
            for rs in sets:
                for ref in rs.findall("resource_ref"):
                    if ref.get("id") == ident:
                        rs.remove(ref)
                        changed = True
                if not rs.findall("resource_ref"):
                    con.remove(rs)
            if not changed:
                continue
            remaining = [r for rs in con.findall("resource_set") for r in rs]
            needed = 1 if con.tag in ("rsc_location", "rsc_ticket") else 2
            if len(remaining) < needed:
                constraints.remove(con)
                notes.append(f"hanging {_cli_kind(con.tag)}:{con.get('id')} deleted")
            else:
                _collapse_sets(con)
                notes.append(f"constraint {_cli_kind(con.tag)}:{con.get('id')} updated")
        tags = self.section("tags", False)
        for tag in list(tags):
            for ref in tag.findall("obj_ref"):
                if ref.get("id") == ident:
                    tag.remove(ref)
            if not tag.findall("obj_ref"):
                # A tag must name something (the schema says so): an empty one goes.
                tags.remove(tag)
                notes.append(f"empty tag:{tag.get('id')} deleted")
        return notes


def _collapse_sets(con: ET.Element) -> None:
    """Sets that now say what a plain two-resource constraint says become one (as crmsh)."""
    sets = con.findall("resource_set")
    refs = [r.get("id", "") for rs in sets for r in rs.findall("resource_ref")]
    if len(refs) != 2 or con.tag not in ("rsc_colocation", "rsc_order"):
        return
    if any(rs.get("require-all") == "false" for rs in sets):
        return
    if len(sets) == 1 and sets[0].get("sequential") != "false":
        first, second = refs
        qual = sets[0].get("role" if con.tag == "rsc_colocation" else "action")
        quals = (qual, qual)
        if con.tag == "rsc_colocation":
            # A sequential set (a b) means "b with a".
            first, second = second, first
    elif len(sets) == 2 and all(len(rs.findall("resource_ref")) == 1 for rs in sets):
        first, second = refs
        key = "role" if con.tag == "rsc_colocation" else "action"
        quals = (sets[0].get(key), sets[1].get(key))
    else:
        return
    for rs in sets:
        con.remove(rs)
    names = ("rsc", "with-rsc") if con.tag == "rsc_colocation" else ("first", "then")
    suffix = "-role" if con.tag == "rsc_colocation" else "-action"
    for name, value, qual in zip(names, (first, second), quals, strict=True):
        con.set(name, value)
        if qual:
            con.set(name + suffix, qual)


def _cli_kind(tag: str) -> str:
    return {"rsc_location": "location", "rsc_colocation": "colocation",
            "rsc_order": "order"}.get(tag, tag)


def _close(choices: list[str], word: str) -> str | None:
    from defib.configure.syntax import suggest
    return suggest(word, choices)


def _unknown(ident: str, conf: ET.Element) -> Exception:
    from defib.configure.syntax import suggest
    from defib.errors import UnknownReferenceError

    known = sorted({el.get("id", "") for el in conf if el.get("id")}
                   | {el.get("id", "") for section in conf for el in section.iter()
                      if el.tag in RESOURCE_TAGS + CONSTRAINT_TAGS + ("node", "tag")})
    hint = suggest(ident, [k for k in known if k])
    return UnknownReferenceError(f"no object with id {ident!r}"
                                 + (f" (did you mean {hint!r}?)" if hint else ""), ident)
