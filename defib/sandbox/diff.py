"""Configuration differences in crmsh syntax: two-way (what a sandbox changes) and three-way
(what the sandbox changed, what the cluster changed since the copy, and where both did)."""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from defib.configure.render import objects, render, render_object

Key = tuple[str, str]  # (kind, id): "primitive", "web"


def _configuration(xml: str) -> ET.Element:
    conf = ET.fromstring(xml).find("configuration")
    return conf if conf is not None else ET.Element("configuration")


def statements(xml: str) -> dict[Key, str]:
    """Every configuration object as its crmsh statement, in crmsh's show order."""
    return {(o.kind, o.ident): render_object(o) for o in objects(_configuration(xml))}


def two_way(old_xml: str, new_xml: str, old_label: str, new_label: str) -> str:
    """A unified diff of the two configurations as crmsh text (empty: the same)."""
    old = render(_configuration(old_xml)).splitlines(keepends=True)
    new = render(_configuration(new_xml)).splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, old_label, new_label))


@dataclass
class ThreeWay:
    ours: list[Key] = field(default_factory=list)  # changed in the sandbox only
    theirs: list[Key] = field(default_factory=list)  # changed in the cluster only
    both: list[Key] = field(default_factory=list)  # changed on both sides, the same way
    conflicts: list[Key] = field(default_factory=list)  # changed on both sides, differently
    base: dict[Key, str] = field(default_factory=dict)
    mine: dict[Key, str] = field(default_factory=dict)
    live: dict[Key, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        out: list[str] = []
        for title, keys, new, label in (
                (f"changed in sandbox {name} only (the commit would apply these)", self.ours,
                 self.mine, "sandbox"),
                ("changed in the cluster since the copy (the commit would undo these)",
                 self.theirs, self.live, "cluster"),
                ("changed on both sides the same way", self.both, self.mine, "both")):
            if keys:
                out.append(f"# {title}:")
                out += [_object_diff(self.base.get(k), new.get(k), label) for k in keys]
        if self.conflicts:
            out.append("# changed on both sides differently (conflicts):")
            for key in self.conflicts:
                out.append(f"## {key[0]} {key[1]}")
                out.append(_object_diff(self.base.get(key), self.mine.get(key), "sandbox"))
                out.append(_object_diff(self.base.get(key), self.live.get(key), "cluster"))
        return "\n".join(out) + ("\n" if out else "")


def _object_diff(old: str | None, new: str | None, label: str) -> str:
    lines = [f"- {line}" for line in (old or "").splitlines()]
    lines += [f"+ {line}" for line in (new or "").splitlines()]
    if new is None:
        lines.append(f"  (deleted in the {label})")
    elif old is None:
        lines.append(f"  (added in the {label})")
    return "\n".join(lines)


def three_way(base_xml: str, mine_xml: str, live_xml: str) -> ThreeWay:
    base, mine, live = statements(base_xml), statements(mine_xml), statements(live_xml)
    result = ThreeWay(base=base, mine=mine, live=live)
    keys = list(dict.fromkeys([*base, *mine, *live]))
    for key in keys:
        b, m, t = base.get(key), mine.get(key), live.get(key)
        if m == b and t == b:
            continue
        if t == b:
            result.ours.append(key)
        elif m == b:
            result.theirs.append(key)
        elif m == t:
            result.both.append(key)
        else:
            result.conflicts.append(key)
    return result
