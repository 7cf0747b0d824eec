"""``defib configure`` as a library: every command takes an environment
(``defib.commands.env``: the running cluster, a CIB file, memory) and returns a ``Result`` of
reports; nothing is printed. An invalid configuration is never written: all problems are
collected and returned instead. Writes are conditional on the configuration read: when
another writer changed it meanwhile the command runs again on a fresh read (``edit`` excepted:
its text was made from what the editor showed).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from defib.commands.env import CommandEnv, MemoryEnv, epoch_of, retrying
from defib.commands.report import Location, info
from defib.commands.result import Result
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

__all__ = ["Result", "apply_edit", "apply_script", "delete", "edit_text", "load", "memory",
           "rename", "show", "show_xml", "verify"]


def memory(xml: str | None = None) -> MemoryEnv:
    """An in-memory CIB (empty by default) for tests, trial runs and conversions."""
    return MemoryEnv(xml if xml is not None else ET.tostring(empty_cib(), encoding="unicode"),
                     is_live=False)


def to_xml(root: ET.Element) -> str:
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return ET.tostring(root, encoding="unicode") + "\n"


def _load(env: CommandEnv) -> tuple[CibDoc, str]:
    """The configuration as a document to change, and the text it was read from."""
    xml = env.read()
    return CibDoc(parse_cib(xml)), xml


def _notes(notes: list[str]) -> tuple[Problem, ...]:
    return tuple(info("configure-note", note) for note in notes)


def _commit(env: CommandEnv, doc: CibDoc, read: str, notes: list[str],
            problems: list[Problem], dry_run: bool = False,
            base: tuple[int, int] | None = None) -> Result:
    """Write ``doc``'s configuration if nothing in it is an error; conditional on the
    version ``read`` (or ``base``) so that a concurrent change is never overwritten."""
    seen = {(p.code, p.ident) for p in problems}
    problems = problems + [p for p in verify_doc(doc) if (p.code, p.ident) not in seen]
    before = parse_cib(read)
    problems += write_problems(before, doc.root, problems)
    reports = (*_notes(notes), *problems)
    if errors(problems):
        return Result(reports)
    conf, old = doc.root.find("configuration"), before.find("configuration")
    text = ET.tostring(conf, encoding="unicode") if conf is not None else ""
    changed = old is None or text != ET.tostring(old, encoding="unicode")
    if changed and not dry_run and conf is not None:
        env.write_section("configuration", text, base=base or epoch_of(read))
    return Result(reports, changed=changed and not dry_run)


# -- show / verify ----------------------------------------------------------------------------
def show(env: CommandEnv, idents: list[str] | None = None, sort: bool = True) -> Result:
    doc, _ = _load(env)
    return Result(output=render(doc.conf, idents or None, sort))


def show_xml(env: CommandEnv, idents: list[str] | None = None) -> Result:
    doc, _ = _load(env)
    if not idents:
        return Result(output=to_xml(doc.root))
    out = []
    for ident in idents:
        el = doc.find(ident)
        if el is None:
            return Result((Problem("unknown-id", f"no object {ident!r}", ident=ident),))
        out.append(to_xml(el))
    return Result(output="".join(out))


def verify(env: CommandEnv, agents: AgentCatalog | None = None) -> Result:
    doc, _ = _load(env)
    problems = verify_all(doc)
    if agents is not None:
        text = render(doc.conf)
        parsed, parse_problems = editing.parse_into(doc, text, IdAllocator())
        # Locations would point into the rendered text, not at anything the user wrote.
        problems += [dataclasses.replace(p, location=None)
                     for x in parsed for p in check_agent(x, agents)] + parse_problems
    return Result(tuple(problems))


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


def apply_script(env: CommandEnv, text: str, agents: AgentCatalog | None = None,
                 interactive: bool = True, dry_run: bool = False) -> Result:
    """Run a configure script statement by statement (crmsh session semantics), then write
    the result once, only if no statement had an error."""
    return retrying(env, lambda: _apply_script(env, text, agents, interactive, dry_run))


def _apply_script(env: CommandEnv, text: str, agents: AgentCatalog | None,
                  interactive: bool, dry_run: bool) -> Result:
    doc, read = _load(env)
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
    result = _commit(env, doc, read, notes, problems, dry_run)
    return dataclasses.replace(result, output="".join(outputs),
                               reports=_locate(result.reports, all_parsed, statements))


def _locate(reports: tuple[Problem, ...], parsed: list[Parsed],
            statements: list[Statement]) -> tuple[Problem, ...]:
    """Whole-document findings (the schema's, say) point at the statement that made the
    object they name, or at the script's only statement: every refusal has a place."""
    def where(report: Problem) -> Location | None:
        for p in parsed:
            if p.ident and (p.ident in report.ids or f"'{p.ident}'" in report.message):
                return p.statement.tokens[0].location
        for ident in report.ids:  # the token that wrote the id the finding names
            for st in statements:
                for tok in st.tokens:
                    if ident in tok.text:
                        return tok.location
        return statements[0].tokens[0].location if len(statements) == 1 else None

    return tuple(dataclasses.replace(r, location=where(r))
                 if r.location is None and r.severity == "error" else r for r in reports)


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
    except DefibError as exc:
        problems.append(Problem(exc.code, str(exc), st.tokens[0].location, ident=exc.ident))
    except OSError as exc:
        problems.append(Problem("file", f"{exc.strerror or exc}: {exc.filename}",
                                st.tokens[0].location, ident=exc.filename))
    return ""


def load(env: CommandEnv, mode: str, text: str, agents: AgentCatalog | None = None,
         base: tuple[int, int] | None = None) -> Result:
    """``load replace``: the text becomes the whole configuration; ``load update``: objects in
    the text replace same-id objects, everything else stays. With ``base`` (the version the
    text was made from) a concurrent change refuses the write (``CibConflictError``)."""
    def run() -> Result:
        doc, read = _load(env)
        return _commit(env, doc, read, [], _load_into(doc, mode, text, agents), base=base)

    return run() if base is not None else retrying(env, run)


def _load_into(doc: CibDoc, mode: str, text: str,
               agents: AgentCatalog | None) -> list[Problem]:
    if mode == "replace":
        return editing.rebuild(doc, text, agents)
    if mode != "update":
        return [Problem("usage", f"load mode must be replace or update, not {mode!r}")]
    return editing.update(doc, text, agents)


def _changing(env: CommandEnv, change: Callable[[CibDoc], list[str]]) -> Result:
    def run() -> Result:
        doc, read = _load(env)
        return _commit(env, doc, read, change(doc), [])

    return retrying(env, run)


def delete(env: CommandEnv, idents: list[str]) -> Result:
    return _changing(env, lambda doc: doc.delete(idents))


def rename(env: CommandEnv, old: str, new: str) -> Result:
    return _changing(env, lambda doc: doc.rename(old, new))


def edit_text(env: CommandEnv) -> tuple[str, tuple[int, int]]:
    """The text ``edit`` puts in front of the editor, and the version it shows."""
    doc, read = _load(env)
    return render(doc.conf), epoch_of(read)


def apply_edit(env: CommandEnv, text: str, base: tuple[int, int],
               agents: AgentCatalog | None = None) -> Result:
    """Take back edited text: it replaces the configuration, or nothing happens; refused
    (``CibConflictError``) when the configuration changed since the editor opened."""
    return load(env, "replace", text, agents, base)


def default_agents() -> LocalAgents:
    return LocalAgents()
