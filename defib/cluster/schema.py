"""The cluster file's schema: every field checked for type and range, errors with their line.

TOML gives types but not meaning: ``heartbeat_interval = "fast"`` is a fine string, ``= 0``
a fine number, ``dead_time = inf`` and ``suspect_time = nan`` fine floats, and a string
``"false"`` is true to Python. Each field here has one checker; a value that does not fit is
refused with a message naming the file, line, table and field, e.g.::

    cluster.toml line 9: [timing] heartbeat_interval = "fast": must be a number of seconds
    from 0.01 to 60

Booleans are only TOML booleans, integers only integers (``true`` is not 1), times are finite
numbers within their range, names are what a directory and a log line can hold.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defib.errors import ConfigError

# A node name becomes a directory (<state_dir>/<name>) and a CIB uname: no "/", no "..".
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
# The messaging layers a cluster can run on (defib.cluster.stack).
STACKS = ("heartbeat", "corosync")
# Ids travel as u32 in every packet header.
MAX_NODE_ID = 2**32 - 1


class Invalid(Exception):
    """A value that does not fit its field; the reader adds file, line and field."""


Check = Callable[[object], Any]


def seconds(low: float, high: float, *, above: bool = False) -> Check:
    bound = f"above {low:g}" if above else f"from {low:g}"

    def check(value: object) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        number = float(value) if ok else math.nan  # type: ignore[arg-type]
        too_low = number <= low if above else number < low
        if not ok or not math.isfinite(number) or too_low or number > high:
            raise Invalid(f"must be a number of seconds {bound} to {high:g}")
        return number
    return check


def integer(low: int, high: int) -> Check:
    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Invalid(f"must be an integer from {low} to {high}")
        return value
    return check


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false (a TOML boolean, without quotes)")
    return value


def text(pattern: re.Pattern[str] | None = None, what: str = "a non-empty string") -> Check:
    def check(value: object) -> str:
        if (not isinstance(value, str) or not value or len(value) > 4096
                or any(ord(c) < 32 for c in value)
                or (pattern is not None and not pattern.match(value))):
            raise Invalid(f"must be {what}")
        return value
    return check


def address(value: object) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise Invalid(f"{_show(value)} is not \"HOST:PORT\"")
    host, _, port = value.rpartition(":")
    if not host or any(c.isspace() for c in host):
        raise Invalid(f"{_show(value)}: no host before the port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid(f"{_show(value)}: the port must be from 1 to 65535")
    return host, int(port)


def stack(value: object) -> str:
    if value not in STACKS:
        raise Invalid(f"must be one of {', '.join(map(repr, STACKS))}")
    return str(value)


def addresses(value: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list) or not value or len(value) > 8:
        raise Invalid('must be a list of one to eight "HOST:PORT" (one per link)')
    return tuple(address(one) for one in value)


CLUSTER: dict[str, Check] = {
    "name": text(),
    "key_file": text(),
    "state_dir": text(),
    "encrypt": boolean,
    "admin_group": text(NODE_NAME, "a group name"),
    "acl_users": boolean,
    "stack": stack,
    "web_port": integer(0, 65535),
}
TIMING: dict[str, Check] = {
    "heartbeat_interval": seconds(0.01, 60),
    "suspect_time": seconds(0.01, 600),
    "dead_time": seconds(0.02, 3600),
    "join_time": seconds(0, 600),
    "loop_grace": seconds(0, 3600),
    "cib_timeout": seconds(0, 3600, above=True),
    "max_clock_offset": seconds(0.5, 86400),
    "nice": integer(-20, 19),
}
QUORUM: dict[str, Check] = {
    "two_node": boolean,
    "wait_for_all": boolean,
    "expected_votes": integer(0, 2**31 - 1),
    "last_man_standing": boolean,
    "last_man_standing_window": seconds(0, 86400),
}
NODE: dict[str, Check] = {
    "id": integer(1, MAX_NODE_ID),
    "name": text(NODE_NAME, "a node name (letters, digits, '.', '_', '-'; at most 63)"),
    "votes": integer(0, 65535),
    "addresses": addresses,
}
TABLES = {"cluster": CLUSTER, "timing": TIMING, "quorum": QUORUM}


@dataclass
class RawCluster:
    """Checked values by field (absent fields keep their defaults)."""
    cluster: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    quorum: dict[str, Any] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)


class _Lines:
    """Where each table and key is in the text (tomllib does not say)."""

    HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]")
    KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        table, index, counts = "", 0, dict[str, int]()
        for number, line in enumerate(text.splitlines(), 1):
            header = self.HEADER.match(line)
            if header:
                table = header.group(2)
                index = counts.get(table, -1) + 1 if header.group(1) == "[[" else 0
                counts[table] = index
                self.tables.setdefault((table, index), number)
                continue
            key = self.KEY.match(line)
            if key:
                self.keys.setdefault((table, index, key.group(1)), number)

    def of(self, table: str, index: int, key: str | None) -> int | None:
        if key is not None and (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        return self.tables.get((table, index))


class _Reader:
    def __init__(self, text: str, source: Path | None) -> None:
        self.lines = _Lines(text)
        self.name = source.name if source is not None else "cluster file"

    def fail(self, table: str, index: int, key: str | None, message: str,
             value: object = None) -> ConfigError:
        line = self.lines.of(table, index, key)
        where = f"{self.name} line {line}" if line else self.name
        label = f"[[{table}]] #{index + 1}" if table == "node" else f"[{table}]"
        if key:
            label += f" {key}" + (f" = {_show(value)}" if value is not None else "")
        return ConfigError(f"{where}: {label}: {message}", key or table)

    def table(self, data: dict[str, Any], table: str, index: int,
              schema: dict[str, Check]) -> dict[str, Any]:
        out = {}
        for key, value in data.items():
            check = schema.get(key)
            if check is None:
                raise self.fail(table, index, key,
                                f"unknown option (known: {', '.join(schema)})")
            try:
                out[key] = check(value)
            except Invalid as exc:
                raise self.fail(table, index, key, str(exc), value) from None
        return out


def read_cluster_file(text: str, source: Path | None = None,
                      timing_defaults: dict[str, float] | None = None) -> RawCluster:
    """``timing_defaults``: the values of absent [timing] fields, for the checks between
    fields."""
    reader = _Reader(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{reader.name}: {exc}") from exc
    raw = RawCluster()
    for name, value in data.items():
        if name == "node":
            continue
        schema = TABLES.get(name)
        if schema is None:
            raise reader.fail(name, 0, None,
                              "unknown table (known: [cluster], [timing], [quorum], [[node]])")
        if not isinstance(value, dict):
            raise reader.fail(name, 0, None, "must be a table")
        setattr(raw, name, reader.table(value, name, 0, schema))
    nodes = data.get("node")
    if not isinstance(nodes, list) or not nodes:
        raise ConfigError(f"{reader.name}: the cluster file defines no [[node]]")
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise reader.fail("node", index, None, "must be a table")
        checked = reader.table(node, "node", index, NODE)
        for required in ("id", "name", "addresses"):
            if required not in checked:
                raise reader.fail("node", index, None, f"has no {required}")
        raw.nodes.append(checked)
    _check_nodes(reader, raw.nodes)
    _check_timing(reader, raw.timing, timing_defaults or {})
    return raw


def _check_nodes(reader: _Reader, nodes: list[dict[str, Any]]) -> None:
    seen: dict[str, dict[object, int]] = {"id": {}, "name": {}}
    where: dict[tuple[str, int], int] = {}
    links = len(nodes[0]["addresses"])
    for index, node in enumerate(nodes):
        for key in ("id", "name"):
            first = seen[key].setdefault(node[key], index)
            if first != index:
                raise reader.fail("node", index, key,
                                  f"{_show(node[key])} is also node #{first + 1}'s {key}:"
                                  f" node {key}s are not unique")
        if len(node["addresses"]) != links:
            raise reader.fail("node", index, "addresses",
                              f"{len(node['addresses'])} link address(es) where node #1 has"
                              f" {links}: every node must have the same number of link")
        for addr in node["addresses"]:
            first = where.setdefault(addr, index)
            if first != index or node["addresses"].count(addr) > 1:
                raise reader.fail("node", index, "addresses",
                                  f"{addr[0]}:{addr[1]} is used twice (node #{first + 1})")


def _check_timing(reader: _Reader, timing: dict[str, Any], defaults: dict[str, float]) -> None:
    def value(key: str) -> float:
        return float(timing.get(key, defaults.get(key, 0.0)))

    if value("suspect_time") < value("heartbeat_interval"):
        key = "suspect_time" if "suspect_time" in timing else "heartbeat_interval"
        raise reader.fail("timing", 0, key, "need heartbeat_interval <= suspect_time <= dead_time"
                          f" (here {value('heartbeat_interval'):g} > {value('suspect_time'):g})")
    if value("dead_time") < value("suspect_time"):
        key = "dead_time" if "dead_time" in timing else "suspect_time"
        raise reader.fail("timing", 0, key, "need heartbeat_interval <= suspect_time <= dead_time"
                          f" (here {value('suspect_time'):g} > {value('dead_time'):g})")


def _show(value: object) -> str:
    """A value as it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
