"""Seeded random CIB generator: (seed, sizes) -> Pacemaker 2.1.5 CIB XML text.

The output is a whole cluster state (configuration and status) that the reference
``crm_simulate`` accepts, so the same file can be fed to both schedulers and their
decisions compared.  It is a pure function: the same arguments always give the same
bytes, which is what makes a mismatching seed reproducible from the command line::

    python -m defib.testing.gen_cib --seed 7 --nodes 4 --resources 10 > x.xml

The status section imitates what a real controller records: probes (``monitor_0``
returning 7) on every node that has seen the resource, ``start`` and recurring
``monitor`` results where it runs, failed operations with fail counts, and operation
digests computed the way Pacemaker computes them, so an unchanged resource is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

FEATURE_SET = "3.16.1"
EPOCH_BASE = 1700000000
SCORES = ("-INFINITY", "-1000", "-100", "-10", "10", "50", "100", "200", "1000", "INFINITY")
COLOCATION_SCORES = ("-INFINITY", "-500", "-100", "100", "500", "INFINITY", "INFINITY")
INTERVALS_S = (10, 15, 20, 30, 60)
DEFAULT_OP_TIMEOUT_MS = 20000


@dataclass(frozen=True)
class GenSpec:
    """What to generate.  Sizes are exact; everything else is a probability or a count."""

    nodes: int
    resources: int
    locations: int | None = None  # None: about resources / 2
    colocations: int | None = None  # None: about resources / 4
    orders: int | None = None  # None: about resources / 4
    group_rate: float = 0.2  # chance that a primitive starts a group
    clone_rate: float = 0.15  # chance that a top-level resource is cloned
    running_rate: float = 0.5  # chance that a resource already runs somewhere
    new_rate: float = 0.15  # chance that a resource has no history at all (never probed)
    failure_rate: float = 0.08  # chance that a running instance has a failed operation
    node_trouble_rate: float = 0.2  # chance that a node (not the DC) is standby/offline/lost
    orphan_rate: float = 0.05  # chance per resource of an extra, unconfigured running resource
    meta_rate: float = 0.15  # chance of stickiness / migration-threshold / target-role meta
    stonith: bool | None = None  # None: random
    cluster_options: bool = True  # random no-quorum-policy, symmetric-cluster, rsc_defaults


def bench_spec(nodes: int, resources: int) -> GenSpec:
    """The benchmark's large CIBs: primitives and constraints, as just after a big import.

    Three quarters of the primitives are new (never probed: the scheduler must probe them
    on every node, which is what costs most), the rest have full history and 60 % of those
    run (about 15 % of all), a few with a failed operation.
    """
    return GenSpec(
        nodes=nodes,
        resources=resources,
        locations=resources // 2,
        colocations=resources // 10,
        orders=resources // 10,
        group_rate=0.0,
        clone_rate=0.0,
        running_rate=0.6,
        new_rate=0.75,
        failure_rate=0.01,
        node_trouble_rate=0.0,
        orphan_rate=0.0,
        meta_rate=0.05,
        stonith=False,
        cluster_options=False,
    )


def small_spec(seed: int) -> GenSpec:
    """The differential tests' small CIBs: 2-6 nodes, 2-15 primitives, a few constraints."""
    rng = random.Random(f"small-{seed}")
    resources = rng.randint(2, 15)
    return GenSpec(
        nodes=rng.randint(2, 6),
        resources=resources,
        locations=rng.randint(0, max(1, resources // 2)),
        colocations=rng.randint(0, 3),
        orders=rng.randint(0, 3),
    )


@dataclass(frozen=True)
class _Primitive:
    id: str
    cls: str
    provider: str | None
    type: str
    interval_s: int
    params: tuple[tuple[str, str], ...] = ()
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _TopLevel:
    """A resource that constraints may name: a primitive, a group, or a clone of either."""

    id: str
    members: tuple[_Primitive, ...]
    group_id: str | None = None
    clone_meta: tuple[tuple[str, str], ...] | None = None  # None: not a clone

    @property
    def is_clone(self) -> bool:
        return self.clone_meta is not None


@dataclass
class _NodeHistory:
    """Operation records and transient attributes of one node, in insertion order."""

    lrm: dict[str, tuple[_Primitive, list[str]]] = field(default_factory=dict)
    attrs: list[tuple[str, str]] = field(default_factory=list)
    call_id: int = 1


def op_digest(params: Sequence[tuple[str, str]], interval_ms: int, timeout_ms: int) -> str:
    """Pacemaker's ``op-digest``: MD5 of the sorted parameter element as libxml dumps it.

    Recurring operations also hash their timeout (``CRM_meta_timeout``), as 2.1.5 does.
    """
    attrs = dict(params)
    if interval_ms:
        attrs["CRM_meta_timeout"] = str(timeout_ms)
    body = "".join(f" {k}={quoteattr(attrs[k])}" for k in sorted(attrs))
    return hashlib.md5(f" <parameters{body}/>\n".encode()).hexdigest()


def _nv(prefix: str, name: str, value: str) -> str:
    return f'<nvpair id="{prefix}-{name}" name="{name}" value={quoteattr(value)}/>'


def _meta_block(owner: str, kind: str, pairs: Sequence[tuple[str, str]], indent: str) -> list[str]:
    if not pairs:
        return []
    out = [f'{indent}<{kind} id="{owner}-{kind}">']
    out += [f"{indent}  {_nv(owner, n, v)}" for n, v in pairs]
    out.append(f"{indent}</{kind}>")
    return out


def _make_primitive(rng: random.Random, rid: str, spec: GenSpec) -> _Primitive:
    provider = rng.choice(("heartbeat", "pacemaker"))
    params: tuple[tuple[str, str], ...] = ()
    if rng.random() < 0.2:
        params = (("fake", f"v{rng.randint(1, 9)}"),)
    meta: list[tuple[str, str]] = []
    if rng.random() < spec.meta_rate:
        meta.append(("resource-stickiness", rng.choice(("0", "50", "100", "INFINITY"))))
    if rng.random() < spec.meta_rate:
        meta.append(("migration-threshold", str(rng.randint(1, 3))))
    if rng.random() < spec.meta_rate / 3:
        meta.append(("target-role", "Stopped"))
    return _Primitive(
        rid, "ocf", provider, "Dummy", rng.choice(INTERVALS_S), params, tuple(meta)
    )


def _make_resources(rng: random.Random, spec: GenSpec) -> list[_TopLevel]:
    tops: list[_TopLevel] = []
    i = 1
    n_groups = 0
    while i <= spec.resources:
        left = spec.resources - i + 1
        if left >= 2 and rng.random() < spec.group_rate:
            size = rng.randint(2, min(4, left))
            members = tuple(_make_primitive(rng, f"rsc{i + k}", spec) for k in range(size))
            n_groups += 1
            top = _TopLevel(f"grp{n_groups}", members, group_id=f"grp{n_groups}")
            i += size
        else:
            top = _TopLevel(f"rsc{i}", (_make_primitive(rng, f"rsc{i}", spec),))
            i += 1
        if rng.random() < spec.clone_rate:
            cmeta: list[tuple[str, str]] = []
            if rng.random() < 0.4:
                cmeta.append(("clone-max", str(rng.randint(1, max(1, spec.nodes)))))
            if rng.random() < 0.3:
                cmeta.append(("interleave", "true"))
            top = _TopLevel(f"{top.id}-clone", top.members, top.group_id, tuple(cmeta))
        tops.append(top)
    return tops


def _primitive_xml(p: _Primitive, indent: str) -> list[str]:
    prov = f' provider="{p.provider}"' if p.provider else ""
    out = [f'{indent}<primitive id="{p.id}" class="{p.cls}"{prov} type="{p.type}">']
    out += _meta_block(p.id, "instance_attributes", p.params, indent + "  ")
    out += _meta_block(p.id, "meta_attributes", p.meta, indent + "  ")
    out.append(f"{indent}  <operations>")
    out.append(
        f'{indent}    <op id="{p.id}-monitor-{p.interval_s}s" name="monitor" '
        f'interval="{p.interval_s}s" timeout="{DEFAULT_OP_TIMEOUT_MS // 1000}s"/>'
    )
    out.append(f"{indent}  </operations>")
    out.append(f"{indent}</primitive>")
    return out


def _top_xml(top: _TopLevel, indent: str) -> list[str]:
    inner = indent + "  " if top.is_clone else indent
    if top.group_id is not None:
        body = [f'{inner}<group id="{top.group_id}">']
        for p in top.members:
            body += _primitive_xml(p, inner + "  ")
        body.append(f"{inner}</group>")
    else:
        body = _primitive_xml(top.members[0], inner)
    if not top.is_clone:
        return body
    out = [f'{indent}<clone id="{top.id}">']
    out += _meta_block(top.id, "meta_attributes", top.clone_meta or (), inner)
    return out + body + [f"{indent}</clone>"]


def _constraints(
    rng: random.Random, spec: GenSpec, tops: list[_TopLevel], nodes: list[str]
) -> list[str]:
    """Location, colocation and order constraints; colocations and orders only point
    backwards in the resource list, so neither can form a cycle."""
    out: list[str] = []
    n_loc = spec.locations if spec.locations is not None else len(tops) // 2
    n_col = spec.colocations if spec.colocations is not None else len(tops) // 4
    n_ord = spec.orders if spec.orders is not None else len(tops) // 4
    for k in range(n_loc):
        top = rng.choice(tops)
        out.append(
            f'<rsc_location id="loc{k + 1}" rsc="{top.id}" node="{rng.choice(nodes)}" '
            f'score="{rng.choice(SCORES)}"/>'
        )
    if len(tops) < 2:
        return out
    seen: set[tuple[str, str]] = set()
    for k in range(n_col):
        i = rng.randrange(1, len(tops))
        j = rng.randrange(0, i)
        pair = (tops[i].id, tops[j].id)
        if pair in seen:
            continue
        seen.add(pair)
        out.append(
            f'<rsc_colocation id="col{k + 1}" rsc="{pair[0]}" with-rsc="{pair[1]}" '
            f'score="{rng.choice(COLOCATION_SCORES)}"/>'
        )
    seen.clear()
    for k in range(n_ord):
        i = rng.randrange(1, len(tops))
        j = rng.randrange(0, i)
        pair = (tops[j].id, tops[i].id)
        if pair in seen:
            continue
        seen.add(pair)
        extra = ""
        roll = rng.random()
        if roll < 0.2:
            extra = ' kind="Optional"'
        elif roll < 0.3:
            extra = ' symmetrical="false"'
        out.append(
            f'<rsc_order id="ord{k + 1}" first="{pair[0]}" then="{pair[1]}"{extra}/>'
        )
    return out


class _Recorder:
    """Writes operation records the way the controller does; one per generated CIB."""

    def __init__(self, rng: random.Random) -> None:
        self.uuid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-" \
            f"{rng.getrandbits(16):04x}-{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}"
        self.transition = rng.randint(1, 200)
        self.action = 1
        self.clock = EPOCH_BASE + rng.randint(0, 10_000_000)

    def record(
        self,
        hist: _NodeHistory,
        node: str,
        p: _Primitive,
        op_id: str,
        operation: str,
        interval_ms: int,
        rc: int,
        target_rc: int,
    ) -> None:
        self.action += 1
        self.clock += 3
        hist.call_id += 1
        key = f"{self.action}:{self.transition}:{target_rc}:{self.uuid}"
        digest = op_digest(p.params, interval_ms, DEFAULT_OP_TIMEOUT_MS)
        run = "" if interval_ms else f' last-run="{self.clock}"'
        xml = (
            f'<lrm_rsc_op id="{op_id}" operation_key="{p.id}_{operation}_{interval_ms}" '
            f'operation="{operation}" crm-debug-origin="do_update_resource" '
            f'crm_feature_set="{FEATURE_SET}" transition-key="{key}" '
            f'transition-magic="0:{rc};{key}" exit-reason="" on_node="{node}" '
            f'call-id="{hist.call_id}" rc-code="{rc}" op-status="0" interval="{interval_ms}"'
            f'{run} last-rc-change="{self.clock}" exec-time="{11 + self.action % 40}" '
            f'queue-time="0" op-digest="{digest}"/>'
        )
        hist.lrm.setdefault(p.id, (p, []))[1].append(xml)

    def probe(self, hist: _NodeHistory, node: str, p: _Primitive, rc: int = 7) -> None:
        self.record(hist, node, p, f"{p.id}_last_0", "monitor", 0, rc, 7)

    def run(self, rng: random.Random, hist: _NodeHistory, node: str, p: _Primitive,
            failure_rate: float) -> None:
        """A started instance, with its recurring monitor; sometimes a failure."""
        ms = p.interval_s * 1000
        roll = rng.random() if rng.random() < failure_rate else 1.0
        if roll < 0.3:
            # A failed start: the instance is left FAILED there and is banned from the node.
            self.record(hist, node, p, f"{p.id}_last_0", "start", 0, 1, 0)
            self.record(hist, node, p, f"{p.id}_last_failure_0", "start", 0, 1, 0)
            self._fail_count(hist, p, "start_0", "INFINITY")
            return
        self.record(hist, node, p, f"{p.id}_last_0", "start", 0, 0, 0)
        if roll < 1.0:
            rc = 7 if roll < 0.7 else 1
            self.record(hist, node, p, f"{p.id}_monitor_{ms}", "monitor", ms, rc, 0)
            self.record(hist, node, p, f"{p.id}_last_failure_0", "monitor", ms, rc, 0)
            self._fail_count(hist, p, f"monitor_{ms}", "1")
        else:
            self.record(hist, node, p, f"{p.id}_monitor_{ms}", "monitor", ms, 0, 0)

    def _fail_count(self, hist: _NodeHistory, p: _Primitive, op: str, value: str) -> None:
        hist.attrs.append((f"fail-count-{p.id}#{op}", value))
        hist.attrs.append((f"last-failure-{p.id}#{op}", str(self.clock)))


def _node_states(rng: random.Random, spec: GenSpec, nodes: list[str]) -> dict[str, str]:
    """online | standby | offline (clean) | lost (unclean, was a member); the DC stays online."""
    states = {}
    for i, name in enumerate(nodes):
        state = "online"
        if i > 0 and rng.random() < spec.node_trouble_rate:
            state = rng.choice(("standby", "offline", "lost"))
        states[name] = state
    return states


def _place_status(
    rng: random.Random,
    spec: GenSpec,
    tops: list[_TopLevel],
    states: dict[str, str],
    rec: _Recorder,
    fencing: _Primitive | None,
) -> dict[str, _NodeHistory]:
    seen_by = [n for n, s in states.items() if s != "offline"]  # nodes whose lrm we record
    hosts = [n for n, s in states.items() if s != "offline"]
    hist = {n: _NodeHistory() for n in seen_by}
    items: list[_TopLevel] = list(tops)
    if fencing is not None:
        items.insert(0, _TopLevel(fencing.id, (fencing,)))
    for top in items:
        if rng.random() < spec.new_rate and top.members[0] is not fencing:
            continue
        running: list[str] = []
        if rng.random() < spec.running_rate or top.members[0] is fencing:
            if top.is_clone:
                limit = dict(top.clone_meta or ()).get("clone-max")
                count = rng.randint(1, len(hosts))
                if limit is not None:
                    count = min(count, int(limit))
                running = rng.sample(hosts, count)
            else:
                running = [rng.choice(hosts)]
        for node in seen_by:
            if node in running:
                # A group runs a prefix of its members, usually all of them.
                upto = len(top.members)
                if len(top.members) > 1 and rng.random() < 0.2:
                    upto = rng.randint(1, len(top.members))
                for idx, p in enumerate(top.members):
                    if idx < upto:
                        rec.run(rng, hist[node], node, p, spec.failure_rate)
                    else:
                        rec.probe(hist[node], node, p)
            else:
                for p in top.members:
                    rec.probe(hist[node], node, p)
    n_orphans = sum(1 for _ in range(spec.resources) if rng.random() < spec.orphan_rate)
    for k in range(n_orphans):
        # Left behind by a resource deleted from the configuration while it ran.
        p = _Primitive(f"old{k + 1}", "ocf", "heartbeat", "Dummy", 30)
        node = rng.choice(hosts)
        rec.run(rng, hist[node], node, p, 0.0)
    return hist


def _status_xml(
    states: dict[str, str], ids: dict[str, int], hist: dict[str, _NodeHistory]
) -> list[str]:
    out = ["  <status>"]
    for node, state in states.items():
        nid = ids[node]
        if state == "offline":
            out.append(
                f'    <node_state id="{nid}" uname="{node}" in_ccm="false" crmd="offline" '
                f'crm-debug-origin="do_state_transition" join="down" expected="down"/>'
            )
            continue
        if state == "lost":
            membership = 'in_ccm="false" crmd="offline" join="down" expected="member"'
        else:
            membership = 'in_ccm="true" crmd="online" join="member" expected="member"'
        out.append(
            f'    <node_state id="{nid}" uname="{node}" {membership} '
            f'crm-debug-origin="do_update_resource">'
        )
        h = hist[node]
        out.append(f'      <transient_attributes id="{nid}">')
        out.append(f'        <instance_attributes id="status-{nid}">')
        out.append(f'          <nvpair id="status-{nid}-.feature-set" name="#feature-set" '
                   f'value="{FEATURE_SET}"/>')
        for name, value in h.attrs:
            safe = name.replace("#", ".")
            out.append(
                f'          <nvpair id="status-{nid}-{safe}" name="{name}" value="{value}"/>'
            )
        out.append("        </instance_attributes>")
        out.append("      </transient_attributes>")
        out.append(f'      <lrm id="{nid}">')
        out.append("        <lrm_resources>")
        for rid, (p, ops) in h.lrm.items():
            prov = f' provider="{p.provider}"' if p.provider else ""
            out.append(f'          <lrm_resource id="{rid}" class="{p.cls}"{prov} type="{p.type}">')
            out += [f"            {op}" for op in ops]
            out.append("          </lrm_resource>")
        out.append("        </lrm_resources>")
        out.append("      </lrm>")
        out.append("    </node_state>")
    out.append("  </status>")
    return out


def _crm_config(rng: random.Random, spec: GenSpec, stonith: bool) -> list[str]:
    props = [
        ("have-watchdog", "false"),
        ("dc-version", "2.1.5-a3f44794f94"),
        ("cluster-infrastructure", "corosync"),
        ("cluster-name", "gen"),
        ("stonith-enabled", "true" if stonith else "false"),
    ]
    if spec.cluster_options:
        if rng.random() < 0.3:
            props.append(("no-quorum-policy", rng.choice(("ignore", "freeze", "stop"))))
        if rng.random() < 0.1:
            props.append(("symmetric-cluster", "false"))
    out = ["    <crm_config>", '      <cluster_property_set id="cib-bootstrap-options">']
    out += [f"        {_nv('cib-bootstrap-options', n, v)}" for n, v in props]
    return out + ["      </cluster_property_set>", "    </crm_config>"]


def generate_cib(seed: int, spec: GenSpec) -> str:
    """The CIB XML text for ``seed`` and ``spec``; identical inputs give identical text."""
    if spec.nodes < 1 or spec.resources < 0:
        raise ValueError("need at least one node and a non-negative resource count")
    rng = random.Random(seed)
    nodes = [f"node{i + 1}" for i in range(spec.nodes)]
    ids = {n: i + 1 for i, n in enumerate(nodes)}
    stonith = spec.stonith if spec.stonith is not None else rng.random() < 0.5
    tops = _make_resources(rng, spec)
    fencing = _Primitive("fencing", "stonith", None, "fence_xvm", 60) if stonith else None
    states = _node_states(rng, spec, nodes)
    rec = _Recorder(rng)
    hist = _place_status(rng, spec, tops, states, rec, fencing)
    up = sum(1 for s in states.values() if s in ("online", "standby"))
    quorum = "1" if 2 * up > len(nodes) else "0"

    out = [
        f'<cib crm_feature_set="{FEATURE_SET}" validate-with="pacemaker-3.7" '
        f'epoch="{rng.randint(5, 500)}" num_updates="{rng.randint(0, 99)}" admin_epoch="0" '
        f'have-quorum="{quorum}" dc-uuid="1">',
        "  <configuration>",
    ]
    out += _crm_config(rng, spec, stonith)
    out.append("    <nodes>")
    for n in nodes:
        if states[n] == "standby":
            out.append(f'      <node id="{ids[n]}" uname="{n}">')
            out += _meta_block(f"nodes-{ids[n]}", "instance_attributes", [("standby", "on")],
                               "        ")
            out.append("      </node>")
        else:
            out.append(f'      <node id="{ids[n]}" uname="{n}"/>')
    out.append("    </nodes>")
    out.append("    <resources>")
    if fencing is not None:
        out += _primitive_xml(fencing, "      ")
    for top in tops:
        out += _top_xml(top, "      ")
    out.append("    </resources>")
    out.append("    <constraints>")
    out += [f"      {c}" for c in _constraints(rng, spec, tops, nodes)]
    out.append("    </constraints>")
    if spec.cluster_options and rng.random() < 0.3:
        out.append("    <rsc_defaults>")
        out += _meta_block("rsc-options", "meta_attributes",
                           [("resource-stickiness", rng.choice(("1", "100", "INFINITY")))],
                           "      ")
        out.append("    </rsc_defaults>")
    out.append("  </configuration>")
    out += _status_xml(states, ids, hist)
    out.append("</cib>")
    return "\n".join(out) + "\n"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m defib.testing.gen_cib",
        description="Print a random Pacemaker CIB (configuration and status) for a seed.",
    )
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--profile", choices=("small", "bench", "custom"), default="custom",
                    help="small: the differential tests' sizes derived from the seed; "
                    "bench: the benchmark's shape (needs --nodes and --resources)")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--resources", type=int, default=10)
    ap.add_argument("--locations", type=int)
    ap.add_argument("--colocations", type=int)
    ap.add_argument("--orders", type=int)
    return ap.parse_args(argv)


def spec_from_args(args: argparse.Namespace) -> GenSpec:
    if args.profile == "small":
        return small_spec(args.seed)
    if args.profile == "bench":
        return bench_spec(args.nodes, args.resources)
    return GenSpec(args.nodes, args.resources, args.locations, args.colocations, args.orders)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    sys.stdout.write(generate_cib(args.seed, spec_from_args(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
