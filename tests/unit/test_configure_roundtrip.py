"""parse(render(cib)) == cib for generated configurations (hypothesis property test).

Configurations are generated as configure text covering every statement kind, loaded into a CIB
(ids generated as crmsh does), rendered with ``show``, loaded again; the two CIBs must be
identical, ids included (sibling order of top-level objects is not significant: crmsh's show
sorts them too; a resource set's explicit ``sequential="true"`` equals the default).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defib.commands.options import OPTIONS
from defib.configure.checks import OP_ATTRS, RESOURCE_META, typo_of
from defib.configure.commands import load, memory, show

KEYWORDS = {"params", "meta", "utilization", "op", "operations", "rule", "and", "or", "op_params",
            "op_meta", "attributes", "description", "date", "defined", "not_defined", "to",
            "select", "id", "name", "interval", "timeout", "role", "start-delay", "enabled",
            "requires", "on-fail", "record-pending", "interval-origin"}
# Names the typed checks know (meta attributes, operation attributes, cluster options), and
# anything one slip away from them, carry typed values or are refused as typos: not drawn.
CHECKED = sorted(set(RESOURCE_META) | set(OP_ATTRS) | set(OPTIONS))
names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS and typo_of(s, CHECKED) is None)
values = st.text(alphabet="abcXYZ019 ,=:/'\"-_.\\", max_size=12)
plain_values = st.from_regex(r"[a-z0-9][a-z0-9.]{0,5}", fullmatch=True)


def q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def nvpairs(draw: st.DrawFn, min_size: int = 1) -> str:
    pairs = draw(st.dictionaries(names, values, min_size=min_size, max_size=3))
    return " ".join(f"{k}={q(v)}" for k, v in pairs.items())


@st.composite
def expression(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["bin", "unary", "lt", "in", "spec", "nested"]))
    if kind == "nested":
        inner = draw(st.lists(st.sampled_from(["#uname eq n1", "date gt 2020-01-01",
                                               "defined x"]), min_size=1, max_size=2))
        score = draw(st.sampled_from(["", "50: "]))
        return f"( {score}{draw(st.sampled_from([' and ', ' or '])).join(inner)} )"
    if kind == "bin":
        op = draw(st.sampled_from(["eq", "ne", "lt", "gt", "lte", "gte", "number:lte",
                                   "version:gt", "string:eq"]))
        return f"{draw(st.sampled_from(['#uname', 'pingd', 'site']))} {op} {draw(plain_values)}"
    if kind == "unary":
        return f"{draw(st.sampled_from(['defined', 'not_defined']))} {draw(names)}"
    if kind == "lt":
        return f"date {draw(st.sampled_from(['lt', 'gt']))} 2009-05-26"
    if kind == "in":
        tail = draw(st.sampled_from(["end=2010-01-01", "years=1", "months=2 weeks=1"]))
        return f"date in start=2009-05-26 {tail}"
    return f"date spec hours={draw(st.sampled_from(['9-17', '1']))} weekdays=1-5"


@st.composite
def rule(draw: st.DrawFn, scored: bool = True) -> str:
    score = draw(st.sampled_from(["", "inf: ", "-inf: ", "100: ", "pingd: "])) if scored else ""
    role = draw(st.sampled_from(["", "$role=Started "]))
    exprs = draw(st.lists(expression(), min_size=1, max_size=3))
    op = draw(st.sampled_from([" and ", " or "]))
    return f"rule {role}{score}{op.join(exprs)}"


@st.composite
def primitive(draw: st.DrawFn, ident: str) -> str:
    agent = draw(st.sampled_from(["Dummy", "ocf:pacemaker:Dummy", "lsb:httpd", "systemd:foo",
                                  "stonith:fence_dummy"]))
    desc = draw(st.sampled_from(["", f" description={q('a web server, v2')}"]))
    parts = [f"primitive {ident} {agent}{desc}"]
    if draw(st.booleans()):
        parts.append(f"params $id={ident}-custom $pin-{ident}:pinned=1")
    if draw(st.booleans()):
        parts.append(f"params {draw(nvpairs())}")
    if draw(st.booleans()):
        parts.append(f"params {draw(rule())} {draw(nvpairs())}")
    if draw(st.booleans()):
        parts.append(f"meta {draw(nvpairs())}")
    if draw(st.booleans()):
        parts.append("utilization cpu=2")
    if draw(st.booleans()):
        parts.append("operations $id=" + ident + "-ops")
    for name in draw(st.lists(st.sampled_from(["start", "stop", "monitor"]), max_size=3,
                              unique=True)):
        op = f"op {name} interval={draw(st.sampled_from(['0', '10', '30s', '2m']))}"
        op += draw(st.sampled_from(["", " timeout=20s", " timeout=20s role=Started"]))
        op += draw(st.sampled_from(["", " OCF_CHECK_LEVEL=10"]))
        op += draw(st.sampled_from(["", " op_meta 2: start-delay=1m"]))
        parts.append(op)
    return " \\\n\t".join(parts)


@st.composite
def rsc_list(draw: st.DrawFn, rscs: list[str], quals: list[str]) -> str:
    items: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = draw(st.lists(st.sampled_from(rscs), min_size=1, max_size=3, unique=True))
        qual = draw(st.sampled_from([""] + quals))
        words = [f"{r}:{qual}" if qual else r for r in chosen]
        bracket = draw(st.sampled_from(["", "(", "["]))
        if bracket:
            closing = {"(": ")", "[": "]"}[bracket]
            extra = draw(st.sampled_from(["", "sequential=true", "require-all=false"]))
            words = [bracket, *words, *([extra] if extra else []), closing]
        items.extend(words)
    return " ".join(items)


@st.composite
def configuration(draw: st.DrawFn) -> str:
    lines: list[str] = []
    nodes = draw(st.lists(st.sampled_from(["node1", "node2", "node3"]), min_size=1, max_size=3,
                          unique=True))
    for n in nodes:
        extra = draw(st.sampled_from(["", " attributes mem=16G", " utilization cpu=4",
                                      " attributes $id=na-" + n + " rack=1"]))
        head = draw(st.sampled_from([n, f"{n}:member", f"$id=x{n} {n}", f"y{n}: {n}"]))
        lines.append(f"node {head}{extra}")
    prims = [f"p{i}" for i in range(draw(st.integers(2, 7)))]
    lines.extend(draw(primitive(p)) for p in prims)
    top = list(prims)
    if draw(st.booleans()):
        lines.append("rsc_template tpl Dummy params state=1")
        lines.append("primitive pt @tpl meta target-role=Stopped")
        top.append("pt")
    if len(top) > 3 and draw(st.booleans()):
        members = top[:2]
        top = top[2:]
        lines.append(f"group g1 {' '.join(members)} meta target-role=Started")
        top.append("g1")
        if draw(st.booleans()):
            kind = draw(st.sampled_from(["clone", "ms"]))
            lines.append(f"{kind} c1 g1 meta {draw(nvpairs())}")
            top.remove("g1")
            top.append("c1")
    if len(top) > 2 and draw(st.booleans()):
        lines.append(f"clone c2 {top.pop(0)} meta promotable=true")
        top.append("c2")
    if len(top) > 2 and draw(st.booleans()):
        lines.append(f"bundle b1 podman image=img network ip-range-start=198.18.0.20 "
                     f"port-mapping id=b1-pm port=80 storage storage-mapping id=b1-sm "
                     f"source-dir=/s target-dir=/t primitive {top.pop(0)} meta priority=1")
    rscs = top
    for i in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            lines.append(f"location l{i} {draw(st.sampled_from(rscs))} "
                         f"{draw(st.sampled_from(['100', 'inf', '-inf']))}: {nodes[0]}")
        else:
            rules = draw(st.lists(rule(), min_size=1, max_size=2))
            opts = draw(st.sampled_from(["", "role=Promoted ", "resource-discovery=never "]))
            lines.append(f"location l{i} {draw(st.sampled_from(rscs))} {opts}" + " ".join(rules))
    for i in range(draw(st.integers(0, 3))):
        score = draw(st.sampled_from(["inf", "-inf", "100"]))
        body = draw(rsc_list(rscs, ["Started", "Promoted"]))
        forced = draw(st.sampled_from(["", "_rsc_set_ "]))
        plain = not forced and len(body.split()) == 2 and not set(body) & set("([")
        # Pacemaker's schema takes node-attribute on a two-resource colocation only.
        opt = draw(st.sampled_from(["", " influence=false"]
                                   + ([" node-attribute=rack"] if plain else [])))
        if len(body.split()) >= 2:
            lines.append(f"colocation col{i} {score}: {forced}{body}{opt}")
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["", "Mandatory: ", "Optional: ", "Serialize: "]))
        body = draw(rsc_list(rscs, ["start", "promote"]))
        sym = draw(st.sampled_from(["", " symmetrical=false"]))
        if len(body.split()) >= 2:
            lines.append(f"order ord{i} {kind}{body}{sym}")
    if draw(st.booleans()):
        lines.append(f"rsc_ticket tk ticketA: {draw(rsc_list(rscs, ['Started']))} "
                     f"loss-policy=stop")
    lines.append(f"property {draw(nvpairs())}")
    if draw(st.booleans()):
        lines.append(f"property $id=extra {draw(rule())} {draw(nvpairs())}")
    lines.append(f"rsc_defaults {draw(nvpairs())}")
    if draw(st.booleans()):
        lines.append(f"op_defaults $id=opd {draw(rule())} timeout=30s")
    if draw(st.booleans()):
        lines.append("op_defaults $id=opx rule op monitor interval=10s and "
                     "resource ocf::Dummy timeout=9s")
    if draw(st.booleans()):
        lines.append(f"tag t1: {' '.join(rscs[:2])}")
    if draw(st.booleans()):
        lines.append('role r1 read xpath:"//nodes" write meta:p0:target-role read ref:p0 '
                     "deny type:nvpair attr:value read status read property:stonith-enabled")
        lines.append("acl_target alice r1")
    if draw(st.booleans()):
        lines.append(f"fencing_topology {nodes[0]}: st1,st2 st3 attr:rack=1 st4")
    if draw(st.booleans()):
        lines.append('alert a1 "/usr/share/pacemaker/alerts/alert_file.sh" attributes '
                     f"{draw(nvpairs())} select fencing nodes attributes {{ a b }} to "
                     '{ /var/log/x.log attributes level=1 } to "log two"')
    return "\n".join(lines) + "\n"


def canonical(xml: str) -> str:
    root = ET.fromstring(xml)
    conf = root.find("configuration")
    assert conf is not None

    def canon(el: ET.Element) -> str:
        attrib = dict(el.attrib)
        # The language cannot tell an explicit sequential="true" from the default (true).
        if el.tag == "resource_set" and attrib.get("sequential") == "true":
            del attrib["sequential"]
        attrs = " ".join(f'{k}="{v}"' for k, v in sorted(attrib.items()))
        return f"<{el.tag} {attrs}>" + "".join(canon(c) for c in el) + f"</{el.tag}>"

    sections = []
    for section in sorted(conf, key=lambda s: s.tag):
        kids = sorted(canon(c) for c in section)
        if kids:
            sections.append(f"{section.tag}:" + "".join(kids))
    return "\n".join(sections)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configuration())
def test_parse_render_roundtrip(text: str) -> None:
    first = memory()
    result = load(first, "replace", text)
    assert result.ok, "\n".join(str(p) for p in result.problems) + "\n" + text
    rendered = show(first).output
    second = memory()
    again = load(second, "replace", rendered)
    assert again.ok, "\n".join(str(p) for p in again.problems) + "\n" + rendered
    assert canonical(second.xml) == canonical(first.xml), rendered
    assert show(second).output == rendered
