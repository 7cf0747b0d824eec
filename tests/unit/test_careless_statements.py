"""Careless statements never become configuration.

Statements that are valid against a base configuration are marked up token by token with what
each token is (keyword, reference, agent, attribute name, value, score, role/action); every
token is then mistyped the way fingers do it (two letters swapped, one dropped, one doubled,
one replaced) and each mistyped statement is fed to ``configure`` on a CIB file. Every one must
be refused with a message that points at the line and column, and the file must stay byte for
byte what it was. Mistypings that happen to be valid (``10s`` -> ``1s``) are left out by the
same rules Pacemaker applies (the value's type), so the count below is of real mistakes.

A sample also goes through ``cib import`` (a mistyped CIB XML) and through the resource, node
and property commands of the CLI.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cli.main import main
from defib.commands.env import FileEnv
from defib.commands.options import OPTIONS
from defib.commands.options import validate as validate_option
from defib.configure.agents import LocalAgents
from defib.configure.checks import CONSTRAINT_ATTRS, OP_ATTRS, RESOURCE_META
from defib.configure.commands import apply_script
from defib.configure.report import errors
from defib.configure.syntax import canon_score
from defib.errors import CommandError

BASE = """\
node node1
node node2
primitive vip ocf:heartbeat:IPaddr2 params ip=198.18.0.10 cidr_netmask=24 \\
    op monitor interval=10s timeout=20s
primitive www ocf:heartbeat:apache params configfile=/etc/apache2/apache2.conf \\
    op monitor interval=30s timeout=40s
primitive db ocf:heartbeat:Dummy params state=/run/db.state
group web vip www
property stonith-enabled=false
"""

# Markup: K: keyword, R: reference to an object, A: agent, N: name=value (the name is mistyped),
# NV: both the name and (separately) the value, V: the value, S: a constraint score,
# RS: a rule score, OK: an order kind, Q: resource:role-or-action (the qualifier is mistyped).
TEMPLATES = [
    "K:primitive app A:ocf:heartbeat:Dummy K:params N:state=/run/app K:meta "
    "NV:target-role=Stopped NV:migration-threshold=3 NV:resource-stickiness=100 "
    "NV:failure-timeout=60s NV:is-managed=true NV:priority=10 NV:multiple-active=stop_start "
    "K:op K:monitor NV:interval=10s NV:timeout=20s NV:on-fail=restart",
    "K:primitive app2 A:ocf:heartbeat:Dummy K:meta NV:requires=quorum K:op K:start NV:timeout=20s "
    "K:op K:stop NV:timeout=20s NV:on-fail=block K:op K:monitor NV:interval=30s "
    "NV:role=Started NV:enabled=true NV:record-pending=true NV:start-delay=5s",
    "K:primitive app3 A:ocf:heartbeat:IPaddr2 K:params N:ip=198.18.0.11 N:cidr_netmask=24",
    "K:location loc1 R:db S:100: node1",
    "K:location loc2 R:db NV:role=Started NV:resource-discovery=exclusive S:inf: node2",
    "K:location loc3 R:db K:rule RS:100: #uname K:eq node1",
    "K:location loc4 R:web S:-inf: node2",
    "K:colocation col1 S:inf: R:db R:web",
    "K:colocation col2 S:-inf: Q:db:Started Q:web:Started",
    "K:order ord1 OK:Mandatory: R:db R:web",
    "K:order ord2 OK:Optional: Q:db:start Q:web:start NV:symmetrical=false",
    "K:rsc_ticket tk1 ticketA: R:db NV:loss-policy=stop",
    "K:property NV:no-quorum-policy=freeze NV:stonith-timeout=60s NV:maintenance-mode=false "
    "NV:cluster-recheck-interval=5min NV:placement-strategy=balanced",
    "K:rsc_defaults NV:resource-stickiness=200 NV:migration-threshold=5",
    "K:op_defaults NV:timeout=30s NV:record-pending=true",
    "K:tag tg1 R:db R:web",
    "K:clone cl-db R:db K:meta NV:interleave=true NV:clone-max=2 NV:notify=false "
    "NV:globally-unique=false NV:promotable=false",
    "K:delete R:db",
    "K:rename R:web website",
    "K:modgroup R:web K:add R:db",
    "K:erase K:nodes",
]
BAD_SCORES = ["INFINITYY", "inff", "1e99", "abc", "foo", "10o", "1OO", "+-100", "infinty"]
BAD_RULE_SCORES = ["INFINITYY", "inff", "1e99", "10o", "+-100", "-infinty"]
ROLES = {"started", "stopped", "promoted", "unpromoted", "master", "slave"}
ACTIONS = {"start", "stop", "promote", "demote"}
ORDER_KINDS = {"mandatory", "optional", "serialize"}


def typos(word: str) -> list[str]:
    """Two letters swapped, one dropped, one doubled, one replaced (near the middle)."""
    if len(word) < 2:
        return []
    i = max(1, len(word) // 2)
    out = [
        word[:i - 1] + word[i] + word[i - 1] + word[i + 1:],
        word[:i] + word[i + 1:] if len(word) > 2 else word + word[-1],
        word[:i] + word[i] * 2 + word[i + 1:] if i < len(word) else word + word[-1],
        word[:i] + ("x" if word[i:i + 1] != "x" else "z") + word[i + 1:],
    ]
    return [t for t in dict.fromkeys(out) if t != word]


KINDS = {**RESOURCE_META, **OP_ATTRS,
         **{k: v for attrs in CONSTRAINT_ATTRS.values() for k, v in attrs.items()}}


def value_ok(name: str, value: str) -> bool:
    """Whether a mistyped value is still valid (then it is not a mistake to test)."""
    if name in OPTIONS:
        try:
            validate_option(name, value)
            return True
        except CommandError:
            return False
    kind = KINDS.get(name)
    return kind is None or kind.check(value)


KNOWN_NAMES = set(KINDS) | set(OPTIONS)
AGENT_PARAMS = {"state", "ip", "cidr_netmask", "fake", "passwd", "nic"}


def mutants(template: str, ids: set[str]) -> Iterator[tuple[str, str]]:
    """(statement, what was mistyped) for every mistypable token of ``template``."""
    tokens = template.split()
    plain = [t.split(":", 1)[1] if re.match(r"^(K|R|A|N|NV|V|S|RS|OK|Q):", t) else t
             for t in tokens]
    for i, tok in enumerate(tokens):
        mark, _, text = tok.partition(":")
        variants: list[str] = []
        if mark == "K":
            variants = typos(text)
        elif mark == "R":
            variants = [t for t in typos(text) if t not in ids]
        elif mark == "A":
            cls, provider, typ = text.split(":")
            variants = [f"{cls}:{provider}:{t}" for t in typos(typ)]
            variants += [f"{cls}:{t}:{typ}" for t in typos(provider)[:2]]
        elif mark in ("N", "NV", "V"):
            name, _, value = text.partition("=")
            if mark in ("N", "NV"):
                variants += [f"{t}={value}" for t in typos(name)
                             if t not in KNOWN_NAMES | AGENT_PARAMS]
            if mark in ("NV", "V"):
                variants += [f"{name}={t}" for t in typos(value) if not value_ok(name, t)]
        elif mark in ("S", "RS"):
            variants = [f"{s}:" for s in (BAD_SCORES if mark == "S" else BAD_RULE_SCORES)]
        elif mark == "OK":
            word = text.rstrip(":")
            variants = [f"{t}:" for t in typos(word)
                        if t.lower() not in ORDER_KINDS and canon_score(t) is None]
        elif mark == "Q":
            rsc, _, qual = text.partition(":")
            valid = ROLES if qual.lower() in ROLES else ACTIONS
            variants = [f"{rsc}:{t}" for t in typos(qual) if t.lower() not in valid]
        for variant in variants:
            yield " ".join(plain[:i] + [variant] + plain[i + 1:]), f"{mark}:{text}"


@pytest.fixture(scope="module")
def agents() -> LocalAgents:
    return LocalAgents()


@pytest.fixture()
def base_cib(tmp_path: Path, agents: LocalAgents) -> Path:
    cib = tmp_path / "cib.xml"
    result = apply_script(FileEnv(cib, create=True), BASE, agents)
    assert result.ok, [str(p) for p in result.problems]
    return cib


def _ids(cib: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', cib.read_text()))


def test_templates_are_valid(base_cib: Path, agents: LocalAgents) -> None:
    """The control: unmistyped, every template is accepted (so a refusal below is the typo's)."""
    original = base_cib.read_bytes()
    for template in TEMPLATES:
        statement = " ".join(t.split(":", 1)[1] if re.match(r"^(K|R|A|N|NV|V|S|RS|OK|Q):", t)
                             else t for t in template.split())
        base_cib.write_bytes(original)
        result = apply_script(FileEnv(base_cib, create=True), statement, agents)
        assert result.ok, (statement, [str(p) for p in result.problems])


def test_every_careless_statement_is_refused_located_and_changes_nothing(
        base_cib: Path, agents: LocalAgents) -> None:
    original = base_cib.read_bytes()
    ids = _ids(base_cib)
    cases = [m for template in TEMPLATES for m in mutants(template, ids)]
    accepted, unlocated, changed = [], [], []
    with_hint = 0
    for statement, what in cases:
        result = apply_script(FileEnv(base_cib, create=True), statement, agents)
        errs = errors(list(result.problems))
        if result.ok or not errs:
            accepted.append(f"{what}: {statement}")
        elif errs[0].location is None:
            unlocated.append(f"{what}: {statement}: {errs[0]}")
        with_hint += any(p.suggestion or "did you mean" in p.message for p in errs)
        if base_cib.read_bytes() != original:
            changed.append(statement)
            base_cib.write_bytes(original)
    print(f"\n{len(cases)} careless statements, {len(cases) - len(accepted)} refused, "
          f"{with_hint} with a suggestion")
    assert len(cases) >= 200
    assert not accepted, "accepted:\n" + "\n".join(accepted)
    assert not unlocated, "\n".join(unlocated)
    assert not changed, changed
    # Every kind of token was mistyped somewhere.
    assert {what.split(":")[0] for _, what in cases} == {"K", "R", "A", "N", "NV", "S", "RS",
                                                        "OK", "Q"}


def _cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


BAD_XML = [
    ("<bogus/>", "root element"),
    ('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">'
     "<configuration><crm_config/><nodes><node/></nodes><resources/><constraints/>"
     "</configuration><status/></cib>", "without id"),
    ('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">'
     '<configuration><crm_config/><nodes/><resources><clone id="c"><group id="g"/></clone>'
     "</resources><constraints/></configuration><status/></cib>", "has no member"),
    ("<cib", "not well-formed"),
]
XML_TYPOS = [
    ('name="target-role" value="Stopped"', 'name="target-role" value="Stoped"', "Stoped"),
    ('interval="10s"', 'interval="1Os"', "1Os"),
    ('score="100"', 'score="INFINITYY"', "INFINITYY"),
    ('score="100"', 'score="1e99"', "1e99"),
    ('name="target-role"', 'name="target-rol"', "target-rol"),
    ('name="stonith-enabled"', 'name="stonith-enabeld"', "stonith-enabeld"),
    ('with-rsc="db"', 'with-rsc="dbb"', "dbb"),
    ('name="migration-threshold" value="3"', 'name="migration-threshold" value="3x"', "3x"),
    ('kind="Mandatory"', 'kind="Mandtory"', "Mandtory"),
    ('<primitive id="app"', '<primitiv id="app"', "primitiv"),
    ('on-fail="restart"', 'on-fail="restrat"', "restrat"),
    ('rsc-role="Started"', 'rsc-role="Startd"', "Startd"),
]
XML_BASE = ("primitive app Dummy meta target-role=Stopped migration-threshold=3 "
            "op monitor interval=10s on-fail=restart\n"
            "location l1 app 100: node1\ncolocation c1 inf: app:Started db\n"
            "order o1 Mandatory: db app\n")


def test_cib_import_refuses_mistyped_xml(base_cib: Path, tmp_path: Path,
                                          agents: LocalAgents) -> None:
    assert apply_script(FileEnv(base_cib, create=True), XML_BASE, agents).ok
    good = base_cib.read_text()
    target = tmp_path / "live.xml"
    target.write_text(good)
    original = target.read_bytes()
    src = tmp_path / "import.xml"
    cases = list(BAD_XML)
    for old, new, needle in XML_TYPOS:
        assert old in good, old
        cases.append((good.replace(old, new, 1), needle))
    for text, needle in cases:
        src.write_text(text)
        code, err = _cli("cib", "import", "--force", "--file", str(target), str(src))
        assert code != 0 and needle in err, (needle, err)
        assert "Traceback" not in err
        assert target.read_bytes() == original
    src.write_text(good)
    assert _cli("cib", "import", "--force", "--file", str(target), str(src))[0] == 0


CLI_TYPOS = [
    ("resource stop dbb", "did you mean 'db'"),
    ("resource start wbe", "did you mean 'web'"),
    ("resource move db nod1", "did you mean 'node1'"),
    ("resource move db node1 --lifetime PT1X", "invalid lifetime"),
    ("resource ban db nod2", "did you mean 'node2'"),
    ("resource cleanup dbb", "did you mean 'db'"),
    ("resource maintenance db onn", "give on or off"),
    ("resource unmanage vpi", "did you mean 'vip'"),
    ("resource clear dbb", "did you mean 'db'"),
    ("resource promote db", "not a promotable clone"),
    ("resource mvoe db node1", "did you mean 'move'"),
    ("node standby nod1", "did you mean 'node1'"),
    ("node standby node1 onn", "give on or off"),
    ("node online nod2", "did you mean 'node2'"),
    ("node maintenance node1 of", "give on or off"),
    ("node attribute nod1 rack r1", "did you mean 'node1'"),
    ("node utilization nod1 cpu 2", "did you mean 'node1'"),
    ("node stanby node1", "did you mean 'standby'"),
    ("property stonith-enabeld false", "did you mean 'stonith-enabled'"),
    ("property no-quorum-policy stpo", "did you mean 'stop'"),
    ("property stonith-timeout 6o", "expected a time"),
    ("property --delete stonith-enabeld", "did you mean 'stonith-enabled'"),
    ("resource meta db target-role Strated", "did you mean 'Started'"),
    ("resource meta db is-managd false", "did you mean 'is-managed'"),
    ("resource meta db resource-stickiness lots", "expected a score"),
    ("resource meta dbb target-role Stopped", "did you mean 'db'"),
    ("resource param db stat /tmp/x", "did you mean 'state'"),
    ("resource param dbb state /tmp/x", "did you mean 'db'"),
    ("resource utilization db cpu two", "an integer is needed"),
    ("resource utilization dbb cpu 2", "did you mean 'db'"),
    ("resource refresh dbb", "did you mean 'db'"),
    ("resource why dbb", "did you mean 'db'"),
    ("resource operations dbb", "did you mean 'db'"),
    ("node delete nod1", "did you mean 'node1'"),
    ("node clearstate nod2", "did you mean 'node2'"),
    ("ticket revoke tikcet", "no ticket 'tikcet'"),
    ("ticket grant 'bad name'", "invalid ticket name"),
    ("attribute -n stonith-enabeld -v false", "did you mean 'stonith-enabled'"),
    ("attribute -n no-quorum-policy -v stpo", "did you mean 'stop'"),
    ("attribute -N nod1 -n rack -v r1", "did you mean 'node1'"),
    ("attribute -N node1 -n cpu -v two -z", "an integer is needed"),
]


@pytest.mark.parametrize(("command", "message"), CLI_TYPOS)
def test_resource_node_property_commands_refuse_typos(base_cib: Path, command: str,
                                                      message: str) -> None:
    original = base_cib.read_bytes()
    words = shlex.split(command)
    code, err = _cli(words[0], "--file", str(base_cib), *words[1:]) if words[0] != "property" \
        else _cli(*words, "--file", str(base_cib))
    assert code != 0
    assert message in err, err
    assert "Traceback" not in err
    assert base_cib.read_bytes() == original
