"""Turn a heartbeat v1 cluster (``ha.cf`` + ``haresources``) into configure text.

Each haresources line ``node1 IPaddr::198.18.0.5/24/eth0 Filesystem::/dev/sda1::/data::ext4
httpd`` becomes a group (members started in order, stopped in reverse, kept together: what v1
did) with a location preference for the line's node. ``auto_failback on`` means resources go
back to their preferred node: resource-stickiness 0; ``off`` means they stay where they are:
resource-stickiness INFINITY. v1 had no quorum on two nodes and fenced only with ``stonith``
directives, so two-node clusters get ``no-quorum-policy=ignore`` and clusters without stonith
``stonith-enabled=false``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from defib.errors import ConfigError

PREFERENCE_SCORE = 100


@dataclass(frozen=True)
class HeartbeatImport:
    text: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_ha_cf(text: str) -> dict[str, list[str]]:
    """Directives of ha.cf: name -> values (``node`` may repeat and list several names)."""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition(" ")
        out.setdefault(name.strip(), []).extend(value.split() or [""])
    return out


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    return out


def _safe(text: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    ident = re.sub(r"__+", "_", ident).strip("_")
    return ident if ident and not ident[0].isdigit() else "r_" + ident


def _resource(spec: str, line: int, used: set[str]) -> tuple[str, str, list[str]]:
    """(id, configure statement, notes) for one v1 resource spec."""
    name, *args = spec.split("::")
    notes: list[str] = []
    if name in ("IPaddr", "IPaddr2"):
        if not args:
            raise ConfigError(f"haresources line {line}: {name} needs an address", spec)
        ip, *rest = args[0].split("/")
        params = [f"ip={ip}"]
        if rest and rest[0]:
            params.append(f"cidr_netmask={rest[0]}")
        if len(rest) > 1 and rest[1]:
            params.append(f"nic={rest[1]}")
        if len(rest) > 2 and rest[2]:
            params.append(f"broadcast={rest[2]}")
        base, agent = f"ip_{ip}", "ocf:heartbeat:IPaddr2"
    elif name == "Filesystem":
        if len(args) < 2:
            raise ConfigError(f"haresources line {line}: Filesystem needs device::directory",
                              spec)
        params = [f"device={args[0]}", f"directory={args[1]}"]
        if len(args) > 2:
            params.append(f"fstype={args[2]}")
        if len(args) > 3:
            params.append(f"options={args[3]}")
        base, agent = f"fs_{args[1]}", "ocf:heartbeat:Filesystem"
    else:
        params = []
        base, agent = name, f"lsb:{name}"
        if args:
            notes.append(f"line {line}: arguments of {name} ({'::'.join(args)}) are not passed "
                         f"to lsb:{name}; LSB scripts take none")
    ident = _safe(base)
    n = 1
    while ident in used:
        n += 1
        ident = f"{_safe(base)}_{n}"
    used.add(ident)
    quoted = " ".join(f'{p.split("=", 1)[0]}="{p.split("=", 1)[1]}"' for p in params)
    statement = f"primitive {ident} {agent}" + (f" params {quoted}" if quoted else "")
    return ident, statement, notes


def convert(ha_cf: str, haresources: str) -> HeartbeatImport:
    directives = parse_ha_cf(ha_cf)
    nodes = [n for n in directives.get("node", []) if n]
    if not nodes:
        raise ConfigError("ha.cf names no nodes ('node' directive)")
    lines: list[str] = [f"node {n}" for n in nodes]
    notes: list[str] = []
    used: set[str] = set(nodes)
    groups: list[str] = []
    for number, line in _logical_lines(haresources):
        node, *specs = line.split()
        if node not in nodes:
            raise ConfigError(f"haresources line {number}: node {node!r} is not in ha.cf", node)
        if not specs:
            raise ConfigError(f"haresources line {number}: no resources for {node}", node)
        members = []
        for spec in specs:
            ident, statement, more = _resource(spec, number, used)
            members.append(ident)
            lines.append(statement)
            notes.extend(more)
        group = _safe(f"group_{len(groups) + 1}")
        while group in used:
            group += "_"
        used.add(group)
        groups.append(group)
        lines.append(f"group {group} {' '.join(members)}")
        lines.append(f"location {group}-on-{node} {group} {PREFERENCE_SCORE}: {node}")
    failback = (directives.get("auto_failback") or ["legacy"])[0].lower()
    stickiness = "0" if failback in ("on", "yes", "true", "1") else "INFINITY"
    if failback == "legacy":
        notes.append("auto_failback legacy (or unset) is treated as off: resources stay put")
    lines.append(f"rsc_defaults resource-stickiness={stickiness}")
    props = []
    if not (directives.get("stonith") or directives.get("stonith_host")):
        props.append("stonith-enabled=false")
        notes.append("ha.cf has no stonith directive: fencing is disabled (stonith-enabled=false)")
    if len(nodes) == 2:
        props.append("no-quorum-policy=ignore")
    if props:
        lines.append("property " + " ".join(props))
    return HeartbeatImport("\n".join(lines) + "\n", tuple(notes))
