"""Checks of parsed statements and whole CIB documents; problems are returned, never raised."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from defib.cib.options import problem
from defib.configure import schema
from defib.configure.agents import AgentCatalog
from defib.configure.checks import Finding, check_configuration, new_findings
from defib.configure.cibdoc import CibDoc
from defib.configure.parser import Parsed
from defib.configure.report import Location, Problem, Severity, errors
from defib.configure.syntax import suggest

# Parameters every agent accepts although metadata does not list them.
IMPLICIT_PARAMS = {"OCF_CHECK_LEVEL", "pcmk_host_list", "pcmk_host_map", "pcmk_host_check",
                    "pcmk_delay_max", "pcmk_delay_base", "pcmk_reboot_action",
                    "pcmk_monitor_timeout", "pcmk_off_action", "priority"}
# Fence agent parameters that the fencer sets for each request, never the administrator.
_FENCER_SETS = {"action", "port", "plug", "nodename"}


def check_agent(p: Parsed, agents: AgentCatalog) -> list[Problem]:
    el = p.element
    if p.kind not in ("primitive", "template") or el.get("template"):
        return []
    cls, provider, typ = el.get("class", ""), el.get("provider"), el.get("type", "")
    agent_tok = p.statement.tokens[2] if len(p.statement.tokens) > 2 else p.statement.tokens[0]
    if not agents.exists(cls, provider, typ):
        spec = ":".join(x for x in (cls, provider, typ) if x)
        # Init scripts may be installed on the nodes later; OCF and fence agents must exist.
        severity: Severity = "warning" if cls in ("lsb", "service") else "error"
        return [Problem("unknown-agent", f"resource agent {spec} is not installed",
                        agent_tok.location, suggest(typ, agents.candidates(cls, provider)),
                        p.ident, severity)]
    info = agents.info(cls, provider, typ)
    if info is None or not info.parameters:
        return []
    problems = []
    given: set[str] = set()
    for ia in el.findall("instance_attributes"):
        for nv in ia.findall("nvpair"):
            name = nv.get("name", "")
            given.add(name)
            if name in info.parameters or name in IMPLICIT_PARAMS or not name:
                continue
            problems.append(Problem(
                "unknown-parameter", f"{info.spec} has no parameter {name!r}",
                _token_location(p, name + "="), suggest(name, info.parameters), p.ident))
    if not el.findall("instance_attributes[@id-ref]") and \
            not any(ia.find("rule") is not None for ia in el.findall("instance_attributes")):
        for name in info.required:
            if cls == "stonith" and name in _FENCER_SETS:
                continue  # the fencer passes these to the agent itself
            if name not in given:
                problems.append(Problem("missing-parameter",
                                        f"{info.spec} requires parameter {name!r}",
                                        agent_tok.location, ident=p.ident, severity="warning"))
    return problems


def _token_location(p: Parsed, prefix: str) -> Location:
    for tok in p.statement.tokens:
        if tok.text.startswith(prefix) or tok.text.split(":", 1)[-1].startswith(prefix):
            return tok.location
    return p.statement.tokens[0].location


def _dangling_id_refs(p: Parsed, known: set[str | None]) -> list[Problem]:
    """``$id-ref=`` / ``@ref`` / ``ref:`` of a statement that name nothing, at the token
    naming them (the whole-document check finds them too, but cannot say where)."""
    problems = []
    for el in p.element.iter():
        # An ACL permission's ``ref:ID`` is an IDREF as well.
        ref = el.get("reference") if el.tag == "acl_permission" else el.get("id-ref")
        if ref is None or ref in known:
            continue
        tok = next((t for t in p.statement.tokens if ref in t.text), p.statement.tokens[0])
        problems.append(Problem("missing-reference", f"<{el.tag} id-ref={ref!r}> names nothing",
                                tok.location, suggest(ref, sorted(k for k in known if k)), ref))
    return problems


def check_references(doc: CibDoc, parsed: list[Parsed]) -> list[Problem]:
    """References of constraints, tags and ACL targets named in ``parsed`` must exist."""
    # Constraints may name tags and templates too (Pacemaker expands them).
    resources = {r.get("id", "") for r in doc.resources()} | {
        t.get("id", "") for t in doc.section("tags", False)}
    # (obj_ref, resource_ref and an acl_target's role carry the id they point to.)
    all_ids = {el.get("id", "") for el in doc.conf.iter()
               if el.get("id") and el.tag not in ("obj_ref", "resource_ref", "role")}
    roles = {r.get("id", "") for r in doc.section("acls", False).findall("acl_role")}
    problems = []
    nodes = doc.node_names()
    every_id = {el.get("id") for el in doc.conf.iter() if el.get("id")}
    for p in parsed:
        problems += _dangling_id_refs(p, every_id)
        node = p.element.get("node") if p.kind == "location" else None
        if node and nodes and node not in nodes and doc.find(p.ident) is not None:
            tok = next((t for t in p.statement.tokens if t.text == node), p.statement.tokens[0])
            problems.append(Problem("unknown-node", f"location {p.ident}: node {node!r} is not "
                                    "a cluster node", tok.location, suggest(node, nodes), node,
                                    severity="warning"))
        if p.kind in ("location", "colocation", "order", "rsc_ticket"):
            known, what = resources, "resource"
        elif p.kind == "tag":
            known, what = all_ids, "object"
        elif p.kind in ("acl_target", "acl_group"):
            known, what = roles, "role"
        else:
            continue
        if doc.find(p.ident) is None:
            continue  # deleted later in the same script
        for ident, tok in p.refs:
            if ident not in known:
                problems.append(Problem(
                    "missing-resource" if what == "resource" else f"missing-{what}",
                    f"{p.kind} {p.ident} refers to missing {what} {ident!r}",
                    tok.location, suggest(ident, sorted(known)), ident))
    return problems


def verify_doc(doc: CibDoc) -> list[Problem]:
    """Whole-document checks (for import, verify and before every write)."""
    problems: list[Problem] = []
    counts = Counter(el.get("id") for el in doc.conf.iter()
                     if el.get("id") and el.tag not in ("resource_ref", "obj_ref", "role", "node"))
    for ident, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if n > 1:
            problems.append(Problem("duplicate-id", f"id {ident!r} is used {n} times",
                                    ident=ident))
    resources = {r.get("id", "") for r in doc.resources()} | {
        t.get("id", "") for t in doc.section("tags", False)}
    for con in doc.section("constraints", False):
        names = [con.get(a) for a in ("rsc", "with-rsc", "first", "then") if con.get(a)]
        names += [r.get("id") for r in con.iter("resource_ref")]
        for name in names:
            if name not in resources:
                problems.append(Problem(
                    "missing-resource",
                    f"{con.tag} {con.get('id')} refers to missing resource {name!r}",
                    suggestion=suggest(name or "", sorted(resources)), ident=name))
    known = {el.get("id") for el in doc.conf.iter() if el.get("id")}
    for el in doc.conf.iter():
        ref = el.get("id-ref")
        if ref is not None and ref not in known:
            problems.append(Problem("missing-reference",
                                    f"<{el.tag} id-ref={ref!r}> names nothing",
                                    suggestion=suggest(ref, sorted(k for k in known if k)),
                                    ident=ref))
    for group in doc.section("resources", False).iter("group"):
        for child in group:
            if child.tag in ("group", "clone", "master", "bundle"):
                problems.append(Problem("bad-child", f"group {group.get('id')} contains "
                                        f"{child.tag} {child.get('id')}", ident=child.get("id")))
    for el in doc.conf.iter():
        if el.tag in ("primitive", "group", "clone", "master", "bundle", "nvpair", "op",
                      "rsc_location", "rsc_colocation", "rsc_order", "node") and \
                not el.get("id") and not el.get("id-ref"):
            problems.append(Problem("missing-id", f"<{el.tag}> without id"))
    problems += _empty_containers(doc)
    return problems


def option_problems(doc: CibDoc) -> list[Problem]:
    """Cluster options with a value defib cannot read or does not honour (named)."""
    out = []
    for nvset in doc.section("crm_config", False).iter("cluster_property_set"):
        for nv in nvset.iter("nvpair"):
            why = problem(nv.get("name") or "", nv.get("value") or "")
            if why is not None:
                out.append(Problem("cluster-option", why, ident=nv.get("name"),
                                   severity="warning"))
    return out


def fencing_problems(doc: CibDoc) -> list[Problem]:
    """stonith-enabled (the default) without any fence device: nothing starts, and a lost
    node can never be fenced (Pacemaker's crm_verify reports it too)."""
    enabled, alias = "true", None
    for nv in doc.section("crm_config", False).iter("nvpair"):
        if nv.get("name") in ("stonith-enabled", "fencing-enabled"):
            enabled = (nv.get("value") or "").strip().lower()
        if nv.get("name") == "fencing-enabled" and alias is None:
            alias = nv
    if any(el.tag == "primitive" and el.get("class") == "stonith" for el in doc.resources()):
        return []
    stonith_set = any(nv.get("name") == "stonith-enabled"
                      for nv in doc.section("crm_config", False).iter("nvpair"))
    on = enabled in ("true", "yes", "on", "y", "1")
    if alias is not None and not stonith_set and not on:
        # Pacemaker 3's name: defib honours it, but Pacemaker 2.1.5 (crm_verify,
        # crm_simulate on an export) does not know it and keeps fencing enabled.
        return [Problem("fencing-enabled-unknown-to-pacemaker",
                        f"fencing-enabled={alias.get('value')} is Pacemaker 3's name: "
                        "Pacemaker 2.1.5 ignores it, keeps stonith enabled and so starts "
                        "nothing without a fence device; set stonith-enabled as well",
                        ident="fencing-enabled", severity="warning")]
    if not on:
        return []
    # An error, as crm_verify says: "Resource start-up disabled since no STONITH resources
    # have been defined".
    return [Problem("no-fence-device", "stonith enabled without a device: nothing will start"
                    " (resource start-up disabled since no STONITH resources have been"
                    " defined) and a lost node can never be fenced; configure a device"
                    " (primitive ... stonith:fence_...) or set stonith-enabled=false")]


def _empty_containers(doc: CibDoc) -> list[Problem]:
    """A group without members, a clone of nothing: Pacemaker's schema refuses them."""
    problems = []
    for el in doc.section("resources", False).iter():
        if el.tag in ("group", "clone", "master") and not any(
                c.tag in ("primitive", "group") for c in el):
            what = "member" if el.tag == "group" else "resource"
            problems.append(Problem("empty-container", f"{el.tag} {el.get('id')} has no "
                                    f"{what}", ident=el.get("id")))
    return problems


def verify_all(doc: CibDoc) -> list[Problem]:
    """``configure verify``: everything ``crm_verify`` reports, and defib's typed checks of
    what Pacemaker would silently ignore, for the whole configuration (old mistakes too)."""
    problems = verify_doc(doc)
    problems += [finding_problem(f) for f in check_configuration(doc.conf)]
    if not errors(problems):
        problems += schema.validate(ET.tostring(doc.root))
    problems += fencing_problems(doc)
    problems += option_problems(doc)
    return problems


def import_problems(text: str, source: str | None) -> list[Problem]:
    """A CIB to import as it stands: well-formed, schema-valid, no typed mistakes."""
    from defib.configure.cibdoc import parse_cib

    problems = schema.validate(text, source)
    if problems and problems[0].code == "not-xml":
        return problems
    doc = CibDoc(parse_cib(text))
    own = verify_doc(doc) + [finding_problem(f) for f in check_configuration(doc.conf)]
    return own + problems


def element_text(el: ET.Element) -> str:
    return ET.tostring(el, encoding="unicode")


def finding_problem(f: Finding, location: Location | None = None) -> Problem:
    message = f.message if location is not None else f.text()
    return Problem(f.code, message, location, f.suggestion, f.where.split(" ")[-1], f.severity)


def locate(findings: list[Finding], p: Parsed) -> list[Problem]:
    """Findings of a parsed statement as problems pointing at the token they came from."""
    out = []
    for f in findings:
        loc = None
        if f.needle:
            tok = next((t for t in p.statement.tokens if t.text == f.needle), None) or next(
                (t for t in p.statement.tokens if t.text.endswith(f.needle)
                 or f.needle in t.text), None)
            loc = tok.location if tok is not None else None
        out.append(finding_problem(f, loc or p.statement.tokens[0].location))
    return out


def write_problems(before: ET.Element | None, after: ET.Element,
                   known: list[Problem] | None = None) -> list[Problem]:
    """Everything that refuses writing ``after`` (a whole ``<cib>``) over ``before``: typed
    checks and schema errors that ``before`` did not have already (an old mistake must not
    block an unrelated change; it is what ``verify`` is for). ``known``: problems already
    reported (with their location): not repeated; once there are errors, the schema's
    messages about the same mistake would only be noise."""
    known = known or []
    conf_before = before.find("configuration") if before is not None else None
    conf_after = after.find("configuration")
    found = new_findings(conf_before, conf_after) if conf_after is not None else []
    problems = [finding_problem(f) for f in found
                if not any(k.code == f.code and f.text().endswith(k.message) for k in known)]
    if errors(known + problems):
        return problems
    old = {p.message for p in schema.validate(ET.tostring(before))} \
        if before is not None else set()
    problems += [p for p in schema.validate(ET.tostring(after)) if p.message not in old]
    return problems
