"""``defib configure`` as a library: every command returns a ``Result``; nothing is printed.

The CIB is reached through ``CibStore`` (``read() -> str``, ``replace(xml)``); ``FileCib`` works
on a CIB XML file as Pacemaker's tools do with ``CIB_file``. An invalid configuration is never
written: all problems are collected and returned instead.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from defib.configure import editing
from defib.configure.agents import AgentCatalog, LocalAgents, add_default_ops
from defib.configure.checks import check_parsed
from defib.configure.cibdoc import CibDoc, empty_cib, parse_cib
from defib.configure.ids import IdAllocator
from defib.configure.lexer import Statement, split_statements
from defib.configure.parser import Parsed, parse_statement
from defib.configure.render import render
from defib.configure.report import Problem, errors
from defib.configure.syntax import ParseFailure, suggest
from defib.configure.validate import (
    check_agent,
    check_references,
    locate,
    verify_all,
    verify_doc,
    write_problems,
)


class CibStore(Protocol):
    def read(self) -> str: ...

    def replace(self, xml: str) -> None: ...


@dataclass
class FileCib:
    """A CIB kept in an XML file; a missing file reads as an empty CIB."""

    path: Path

    def read(self) -> str:
        if not self.path.exists():
            return ET.tostring(empty_cib(), encoding="unicode")
        return self.path.read_text()

    def replace(self, xml: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cib-")
        with os.fdopen(fd, "w") as fh:
            fh.write(xml)
        os.replace(tmp, self.path)


@dataclass
class MemoryCib:
    """In-memory store for tests and dry runs."""

    xml: str = field(default_factory=lambda: ET.tostring(empty_cib(), encoding="unicode"))

    def read(self) -> str:
        return self.xml

    def replace(self, xml: str) -> None:
        self.xml = xml


@dataclass(frozen=True)
class Result:
    ok: bool
    output: str = ""
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()

    def raise_for_errors(self) -> Result:
        """For library callers that prefer exceptions: ConfigSyntaxError naming every error."""
        from defib.errors import ConfigSyntaxError

        errs = errors(list(self.problems))
        if errs:
            first = errs[0]
            loc = first.location
            raise ConfigSyntaxError("; ".join(str(p) for p in errs), first.ident,
                                    loc.line if loc else None, loc.column if loc else None,
                                    first.suggestion)
        return self


def to_xml(root: ET.Element) -> str:
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return ET.tostring(root, encoding="unicode") + "\n"


def _load(store: CibStore) -> CibDoc:
    return CibDoc(parse_cib(store.read()))


def _bump_epoch(doc: CibDoc) -> None:
    try:
        doc.root.set("epoch", str(int(doc.root.get("epoch", "0")) + 1))
    except ValueError:
        doc.root.set("epoch", "1")
    doc.root.set("num_updates", "0")


def _commit(store: CibStore, doc: CibDoc, notes: list[str], problems: list[Problem],
            dry_run: bool = False) -> Result:
    seen = {(p.code, p.ident) for p in problems}
    problems = problems + [p for p in verify_doc(doc) if (p.code, p.ident) not in seen]
    problems += write_problems(parse_cib(store.read()), doc.root, problems)
    if errors(problems):
        return Result(False, "", tuple(notes), tuple(problems))
    if not dry_run:
        _bump_epoch(doc)
        store.replace(to_xml(doc.root))
    return Result(True, "", tuple(notes), tuple(problems))


# -- show / verify ----------------------------------------------------------------------------
def show(store: CibStore, idents: list[str] | None = None, sort: bool = True) -> Result:
    doc = _load(store)
    return Result(True, render(doc.conf, idents or None, sort))


def show_xml(store: CibStore, idents: list[str] | None = None) -> Result:
    doc = _load(store)
    if not idents:
        return Result(True, to_xml(doc.root))
    out = []
    for ident in idents:
        el = doc.find(ident)
        if el is None:
            return Result(False, "", (), (Problem("unknown-id", f"no object {ident!r}",
                                                  ident=ident),))
        out.append(to_xml(el))
    return Result(True, "".join(out))


def verify(store: CibStore, agents: AgentCatalog | None = None) -> Result:
    doc = _load(store)
    problems = verify_all(doc)
    if agents is not None:
        text = render(doc.conf)
        parsed, parse_problems = editing.parse_into(doc, text, IdAllocator())
        # Locations would point into the rendered text, not at anything the user wrote.
        problems += [dataclasses.replace(p, location=None)
                     for x in parsed for p in check_agent(x, agents)] + parse_problems
    return Result(not errors(problems), "", (), tuple(problems))


# -- changing the configuration -----------------------------------------------------------------
_SCRIPT_ONLY = ("delete", "rm", "rename", "erase", "commit", "verify", "show", "end", "up",
                "cd", "configure", "_test", "_regtest", "refresh", "ptest", "save", "load",
                "monitor_check", "set", "filter", "modgroup")


def _place(doc: CibDoc, parsed: list[Parsed], agents: AgentCatalog | None, interactive: bool,
           ids: IdAllocator) -> tuple[list[str], list[Problem]]:
    notes: list[str] = []
    problems: list[Problem] = []
    for p in parsed:
        if agents is not None:
            problems.extend(check_agent(p, agents))
        problems.extend(locate(check_parsed(p.kind, p.element), p))
        if interactive:
            _interactive_defaults(p, agents, ids)
        n, pr = doc.apply(p, interactive)
        notes.extend(n)
        problems.extend(pr)
    return notes, problems


def _interactive_defaults(p: Parsed, agents: AgentCatalog | None, ids: IdAllocator) -> None:
    """What crmsh adds to objects typed at its prompt: default operations, interleave."""
    el = p.element
    if p.kind == "primitive" and agents is not None and el.get("class"):
        info = agents.info(el.get("class", ""), el.get("provider"), el.get("type", ""))
        if info is not None and info.actions:
            add_default_ops(el, info, ids.new)
    if p.kind in ("clone", "master"):
        metas = el.findall("meta_attributes")
        if not any(nv.get("name") == "interleave" for m in metas for nv in m.findall("nvpair")):
            meta = metas[0] if metas else None
            if meta is None:
                meta = ET.Element("meta_attributes", {"id": ids.new(f"{p.ident}-meta_attributes")})
                el.insert(0, meta)
            ET.SubElement(meta, "nvpair", {"id": ids.new(f"{meta.get('id')}-interleave"),
                                           "name": "interleave", "value": "true"})


def apply_script(store: CibStore, text: str, agents: AgentCatalog | None = None,
                 interactive: bool = True, dry_run: bool = False) -> Result:
    """Run a configure script statement by statement (crmsh session semantics), then write
    the result once, only if no statement had an error."""
    doc = _load(store)
    notes: list[str] = []
    problems: list[Problem] = []
    statements, lex_problems = split_statements(text)
    problems.extend(lex_problems)
    all_parsed: list[Parsed] = []
    outputs: list[str] = []
    for st in statements:
        word = st.tokens[0].text.lower()
        if word in _SCRIPT_ONLY:
            out = _script_command(doc, st, notes, problems, agents)
            if out:
                outputs.append(out)
            continue
        ids = doc.ids()
        try:
            p = parse_statement(st, ids, doc.resolve_ops, doc.node_names())
        except ParseFailure as exc:
            problems.append(exc.problem)
            continue
        n, pr = _place(doc, [p], agents, interactive, ids)
        notes.extend(n)
        problems.extend(pr)
        all_parsed.append(p)
    problems.extend(check_references(doc, all_parsed))
    result = _commit(store, doc, notes, problems, dry_run)
    return Result(result.ok, "".join(outputs), result.notes, result.problems)


def _script_command(doc: CibDoc, st: Statement, notes: list[str],
                    problems: list[Problem], agents: AgentCatalog | None) -> str:
    from defib.errors import DefibError

    words = [t.text for t in st.tokens]
    word = words[0].lower()
    try:
        if word in ("delete", "rm"):
            notes.extend(doc.delete(words[1:]))
        elif word == "rename" and len(words) == 3:
            notes.extend(doc.rename(words[1], words[2]))
        elif word == "erase":
            if words[1:] not in ([], ["nodes"]):
                problems.append(Problem("usage", "erase takes nothing or 'nodes', not "
                                        f"{' '.join(words[1:])!r}", st.tokens[1].location,
                                        suggest(words[1], ["nodes"])))
                return ""
            editing.erase(doc, words[1:] == ["nodes"])
        elif word == "set" and len(words) == 3:
            editing.set_value(doc, words[1], words[2])
        elif word == "filter" and len(words) >= 2:
            problems.extend(editing.filter_objects(doc, words[1], words[2:], agents))
        elif word == "modgroup" and len(words) in (4, 6):
            where, ref = (words[4], words[5]) if len(words) == 6 else (None, None)
            editing.modgroup(doc, words[1], words[2], words[3], where, ref)
        elif word == "load" and len(words) == 3:
            problems.extend(_load_into(doc, words[1], Path(words[2]).read_text(), agents))
        elif word == "save" and len(words) == 2:
            Path(words[1]).write_text(render(doc.conf))
        elif word == "show":
            if words[1:2] == ["xml"]:
                return to_xml(doc.root)
            return render(doc.conf, words[1:] or None)
    except (DefibError, OSError) as exc:
        problems.append(Problem("command", str(exc), st.tokens[0].location,
                                ident=getattr(exc, "ident", None)))
    return ""


def load(store: CibStore, mode: str, text: str, agents: AgentCatalog | None = None) -> Result:
    """``load replace``: the text becomes the whole configuration; ``load update``: objects in
    the text replace same-id objects, everything else stays."""
    doc = _load(store)
    problems = _load_into(doc, mode, text, agents)
    return _commit(store, doc, [], problems)


def _load_into(doc: CibDoc, mode: str, text: str,
               agents: AgentCatalog | None) -> list[Problem]:
    if mode == "replace":
        return editing.rebuild(doc, text, agents)
    if mode != "update":
        return [Problem("usage", f"load mode must be replace or update, not {mode!r}")]
    return editing.update(doc, text, agents)


def delete(store: CibStore, idents: list[str]) -> Result:
    doc = _load(store)
    notes = doc.delete(idents)
    return _commit(store, doc, notes, [])


def rename(store: CibStore, old: str, new: str) -> Result:
    doc = _load(store)
    notes = doc.rename(old, new)
    return _commit(store, doc, notes, [])


def edit_text(store: CibStore) -> str:
    """The text ``edit`` puts in front of the editor."""
    return render(_load(store).conf)


def apply_edit(store: CibStore, text: str, agents: AgentCatalog | None = None) -> Result:
    """Take back edited text: it replaces the configuration, or nothing happens."""
    return load(store, "replace", text, agents)


def default_agents() -> LocalAgents:
    return LocalAgents()

