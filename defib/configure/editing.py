"""Whole-configuration edits used by scripts and ``edit``: rebuild from text, ``filter``
(pipe objects through a program, as crmsh does), ``modgroup``, ``set``, ``erase``."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

from defib.configure.agents import AgentCatalog
from defib.configure.cibdoc import CibDoc, empty_cib
from defib.configure.ids import IdAllocator
from defib.configure.lexer import split_statements
from defib.configure.parser import Parsed, parse_statement
from defib.configure.render import objects, render_object, select
from defib.configure.report import Problem, errors
from defib.configure.syntax import ParseFailure
from defib.configure.validate import check_agent, check_references, verify_doc
from defib.errors import CommandError, ConfigError, UnknownReferenceError

# Containers after what they contain, constraints and the rest last.
PLACEMENT_ORDER = {"node": 0, "primitive": 1, "template": 1, "group": 2, "clone": 3,
                   "master": 3, "bundle": 3, "monitor": 4}


def parse_into(doc: CibDoc, text: str, ids: IdAllocator) -> tuple[list[Parsed], list[Problem]]:
    statements, problems = split_statements(text)
    parsed = []
    for st in statements:
        try:
            parsed.append(parse_statement(st, ids, doc.resolve_ops, doc.node_names()))
        except ParseFailure as exc:
            problems.append(exc.problem)
    return parsed, problems


def place_all(doc: CibDoc, parsed: list[Parsed],
              agents: AgentCatalog | None) -> tuple[list[str], list[Problem]]:
    """Place statements in dependency order (a group may come before its primitives)."""
    notes: list[str] = []
    problems: list[Problem] = []
    for p in sorted(parsed, key=lambda p: PLACEMENT_ORDER.get(p.kind, 5)):
        if agents is not None:
            problems.extend(check_agent(p, agents))
        n, pr = doc.apply(p)
        notes.extend(n)
        problems.extend(pr)
    problems.extend(check_references(doc, parsed))
    return notes, problems


def rebuild(doc: CibDoc, text: str, agents: AgentCatalog | None = None) -> list[Problem]:
    """Make ``text`` the whole configuration of ``doc`` (status kept), or change nothing."""
    fresh = CibDoc(empty_cib())
    parsed, problems = parse_into(fresh, text, IdAllocator())
    _, more = place_all(fresh, parsed, agents)
    problems += more
    seen = {(p.code, p.ident) for p in problems}
    problems += [p for p in verify_doc(fresh) if (p.code, p.ident) not in seen]
    if not errors(problems):
        for child in list(doc.conf):
            doc.conf.remove(child)
        doc.conf.extend(list(fresh.conf))
    return problems


_MERGED = ("property", "rsc_defaults", "op_defaults", "monitor", "fencing_topology")
_CONTAINERS = ("group", "clone", "master", "bundle")


def update(doc: CibDoc, text: str, agents: AgentCatalog | None = None) -> list[Problem]:
    """``load update``: objects of ``text`` replace same-id objects where they stand (a primitive
    stays in its group, constraints stay); new objects are added; the rest is untouched."""
    parsed, problems = parse_into(doc, text, IdAllocator())
    if errors(problems):
        return problems
    parents = doc.parents()
    resources = doc.section("resources")
    holders: dict[str, ET.Element] = {}
    for p in parsed:
        old = doc.find(p.ident) if p.kind not in _MERGED else None
        if old is None or (old.tag == "node") != (p.kind == "node") or old not in parents:
            continue
        parent = parents[old]
        holder = ET.Element("defib-placeholder", {"ref": p.ident})
        parent.insert(list(parent).index(old), holder)
        parent.remove(old)
        if old.tag in _CONTAINERS:
            resources.extend(c for c in old if c.tag in ("primitive", "group"))
        holders[p.ident] = holder
    parsed, problems = parse_into(doc, text, doc.ids())
    _, more = place_all(doc, parsed, agents)
    parents = doc.parents()
    for ident, holder in holders.items():
        slot = parents[holder]
        new = doc.find(ident)
        if new is not None and new in parents:
            parents[new].remove(new)
            slot.insert(list(slot).index(holder), new)
        slot.remove(holder)
    return problems + more


def filter_objects(doc: CibDoc, command: str, idents: list[str],
                   agents: AgentCatalog | None = None) -> list[Problem]:
    """crmsh's ``filter``: the text of the objects (all without ids) goes through ``command``
    (a shell command line); what comes out replaces them. Objects the command drops are
    deleted, objects it adds are created."""
    every = objects(doc.conf)
    chosen = select(every, idents) if idents else every
    if idents and not chosen:
        raise UnknownReferenceError(f"no objects match {' '.join(idents)}", idents[0])
    chosen_ids = {id(o) for o in chosen}
    kept = "".join(render_object(o) + "\n" for o in every if id(o) not in chosen_ids)
    text = "".join(render_object(o) + "\n" for o in chosen)
    try:
        proc = subprocess.run(command, shell=True, input=text, capture_output=True, text=True,
                              timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"filter {command!r} did not finish in 60 s") from exc
    if proc.returncode != 0:
        raise CommandError(f"filter {command!r} failed: {proc.stderr.strip()}")
    return rebuild(doc, kept + proc.stdout, agents)


def modgroup(doc: CibDoc, group_id: str, action: str, rsc: str,
             where: str | None = None, ref: str | None = None) -> None:
    group = doc.resource(group_id)
    if group is None or group.tag != "group":
        raise UnknownReferenceError(f"{group_id} is not a group", group_id)
    members = [c for c in group if c.tag == "primitive"]
    if action == "remove":
        child = next((c for c in members if c.get("id") == rsc), None)
        if child is None:
            raise ConfigError(f"{rsc} is not member of {group_id}", rsc)
        if len(members) == 1:
            raise ConfigError(f"{rsc} is the last member of {group_id}; delete the group", rsc)
        group.remove(child)
        doc.section("resources").append(child)
        return
    if action != "add":
        raise CommandError(f"modgroup: expected add or remove, got {action!r}")
    el = doc.resource(rsc)
    if el is None:
        raise UnknownReferenceError(f"{group_id} refers to missing object {rsc}", rsc)
    if el.tag != "primitive":
        raise ConfigError(f"a group may contain only primitives; {rsc} is {el.tag}", rsc)
    parent = doc.parents().get(el)
    if parent is not None and parent.tag != "resources":
        raise ConfigError(f"{rsc} is already in {parent.tag} {parent.get('id')}", rsc)
    position = len(list(group))
    if where is not None:
        anchor = next((c for c in members if c.get("id") == ref), None)
        if anchor is None:
            raise ConfigError(f"{ref} is not member of {group_id}", ref)
        position = list(group).index(anchor) + (1 if where == "after" else 0)
    if parent is not None:
        parent.remove(el)
    group.insert(position, el)


def set_value(doc: CibDoc, path: str, value: str) -> None:
    """crmsh's ``set <id>.<name> <value>``: change an nvpair or attribute of an object."""
    ident, _, name = path.partition(".")
    el = doc.find(ident)
    if el is None:
        raise UnknownReferenceError(f"no object {ident!r}", ident)
    for nv in el.iter("nvpair"):
        if nv.get("name") == name:
            nv.set("value", value)
            return
    if name in el.attrib:
        el.set(name, value)
        return
    raise UnknownReferenceError(f"{ident} has no attribute {name!r}", ident)


def erase(doc: CibDoc, nodes_only: bool) -> None:
    names = ("nodes",) if nodes_only else ("crm_config", "resources", "constraints",
                                           "rsc_defaults", "op_defaults", "tags", "acls",
                                           "fencing-topology", "alerts")
    for name in names:
        el = doc.conf.find(name)
        if el is not None:
            el.clear()


def copy_doc(doc: CibDoc) -> CibDoc:
    return CibDoc(ET.fromstring(ET.tostring(doc.root)))
