"""``resource`` commands with crm_resource's semantics: target-role and other meta
attributes, ``cli-prefer-``/``cli-ban-`` location constraints, cleanup, locate, fail counts."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.placement import locations, working_set
from defib.commands.report import Report, info, warning
from defib.commands.result import Result, done, shown
from defib.commands.wait import wait_settled
from defib.errors import CommandError

_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                  r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SIMPLE = re.compile(r"^(\d+)\s*(s|sec|m|min|h|hr|d|day|days|w)?$")
_SIMPLE_S = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
             "d": 86400, "day": 86400, "days": 86400, "w": 604800}


def parse_lifetime(text: str) -> dt.timedelta:
    """An ISO 8601 duration (``PT1H``, ``P1D``) as crm_resource takes, or ``30m``/``2h``."""
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groups()):
        y, mo, w, d, h, mi, s = (int(g or 0) for g in iso.groups())
        return dt.timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s)
    simple = _SIMPLE.match(text.strip().lower())
    if simple:
        return dt.timedelta(seconds=int(simple.group(1)) * _SIMPLE_S[simple.group(2) or ""])
    raise CommandError(f"invalid lifetime {text!r}: give an ISO 8601 duration such as PT1H "
                       "or P1D (or 30m, 2h)", text)


# -- meta attributes ----------------------------------------------------------------------------


def _meta_target(root: ET.Element, rsc: str) -> ET.Element:
    """Where crm_resource puts a resource's meta attribute: the clone for a clone's child."""
    element = cibtree.find_resource(root, rsc)
    parent = cibtree.parent_of(root, element)
    if parent is not None and parent.tag in ("clone", "master"):
        return parent
    return element


def set_meta(env: CommandEnv, rsc: str, name: str, value: str | None) -> Result:
    """Set (``None``: delete) a meta attribute on ``rsc``, and remove the same attribute from
    its children so that the new value is the one in effect (as crmsh does)."""

    def change(root: ET.Element) -> tuple[str, bool, list[Report]]:
        target = _meta_target(root, rsc)
        tid = target.get("id", rsc)
        changed = cibtree.set_nv(root, target, "meta_attributes", f"{tid}-meta_attributes",
                                 name, value)
        notes = []
        for child in target.iter():
            if child is not target and child.tag in cibtree.RESOURCE_TAGS:
                if cibtree.set_nv(root, child, "meta_attributes", "", name, None):
                    changed = True
                    notes.append(info("meta-removed-from-child",
                                      f"removed {name} of {child.get('id')}",
                                      child.get("id", "")))
        ancestor = cibtree.parent_of(root, target)
        while ancestor is not None and ancestor.tag in cibtree.RESOURCE_TAGS:
            other = cibtree.get_nv(ancestor, "meta_attributes", name)
            if other is not None and other != value:
                notes.append(warning("meta-overridden", f"{ancestor.get('id')} (containing "
                                     f"{tid}) has {name}={other}, which may still apply",
                                     ancestor.get("id", ""), tid))
            ancestor = cibtree.parent_of(root, ancestor)
        return tid, changed, notes

    tid, changed, notes = edit(env, change)
    what = f"{name}={value}" if value is not None else f"{name} removed"
    state = "set" if changed else "unchanged"
    return Result((info("meta-set" if changed else "meta-unchanged",
                        f"{tid}: {what} ({state})", tid), *notes), "", changed,
                  {"resource": tid, "name": name, "value": value})


def start(env: CommandEnv, rsc: str) -> Result:
    return set_meta(env, rsc, "target-role", "Started")


def stop(env: CommandEnv, rsc: str) -> Result:
    return set_meta(env, rsc, "target-role", "Stopped")


def _promotable(env: CommandEnv, rsc: str) -> None:
    root = ET.fromstring(env.read())
    target = _meta_target(root, rsc)
    if target.tag == "master" or (
            target.tag == "clone"
            and (cibtree.get_nv(target, "meta_attributes", "promotable") or "").lower()
            in ("true", "yes", "on", "1")):
        return
    raise CommandError(f"{rsc} is not a promotable clone: promote/demote apply to promotable "
                       "clones (use start/stop)", rsc)


def promote(env: CommandEnv, rsc: str) -> Result:
    _promotable(env, rsc)
    return set_meta(env, rsc, "target-role", "Promoted")


def demote(env: CommandEnv, rsc: str) -> Result:
    _promotable(env, rsc)
    return set_meta(env, rsc, "target-role", "Unpromoted")


def _flag(env: CommandEnv, rsc: str, name: str, on: bool) -> Result:
    return set_meta(env, rsc, name, "true" if on else "false")


def manage(env: CommandEnv, rsc: str) -> Result:
    return _flag(env, rsc, "is-managed", True)


def unmanage(env: CommandEnv, rsc: str) -> Result:
    return _flag(env, rsc, "is-managed", False)


def maintenance(env: CommandEnv, rsc: str, on: bool = True) -> Result:
    return _flag(env, rsc, "maintenance", on)


def restart(env: CommandEnv, rsc: str, timeout: float,
            progress: Callable[[str], None] | None = None) -> Result:
    """Stop, wait until stopped, restore the target-role, wait (crm_resource --restart)."""
    if not env.live:
        raise CommandError("restart needs a running cluster (this is a CIB file)", rsc)
    root = ET.fromstring(env.read())
    before = cibtree.get_nv(_meta_target(root, rsc), "meta_attributes", "target-role")
    wait_settled(env, timeout, progress)
    stop(env, rsc)
    stopped = wait_settled(env, timeout, progress)
    set_meta(env, rsc, "target-role", before)
    started = wait_settled(env, timeout, progress)
    return done("restarted", f"{rsc}: restarted (stopped in {stopped:.1f}s, "
                f"started in {started:.1f}s)", rsc,
                data={"stopped_s": round(stopped, 3), "started_s": round(started, 3)})


# -- location constraints ------------------------------------------------------------------------


def _current_nodes(env: CommandEnv, rsc: str, promoted: bool) -> list[str]:
    places = locations(working_set(env), rsc)
    return [node for node, role in places if not promoted or role == "Promoted"]


def _cli_location(root: ET.Element, cid: str, rsc: str, node: str, score: str,
                  role: str | None, end: str | None) -> ET.Element:
    attrs = {"id": cid, "rsc": rsc}
    if role:
        attrs["role"] = role
    if end is None:
        attrs.update({"node": node, "score": score})
        return ET.Element("rsc_location", attrs)
    el = ET.Element("rsc_location", attrs)
    # The ids crm_resource gives them.
    if cid.startswith("cli-prefer-"):
        ids = (f"cli-prefer-rule-{rsc}", f"cli-prefer-expr-{rsc}",
               f"cli-prefer-lifetime-end-{rsc}")
    else:
        ids = (f"{cid}-rule", f"{cid}-expr", f"{cid}-lifetime")
    rule = ET.SubElement(el, "rule", {"id": ids[0], "score": score, "boolean-op": "and"})
    ET.SubElement(rule, "expression", {"id": ids[1], "attribute": "#uname",
                                       "operation": "eq", "value": node, "type": "string"})
    ET.SubElement(rule, "date_expression", {"id": ids[2], "operation": "lt", "end": end})
    return el


def _replace_constraint(root: ET.Element, new: ET.Element) -> None:
    constraints = cibtree.section(root, "constraints")
    for el in list(constraints):
        if el.get("id") == new.get("id"):
            constraints.insert(list(constraints).index(el), new)
            constraints.remove(el)
            return
    taken = cibtree.all_ids(root)
    clashes = [el.get("id") for el in new.iter() if el.get("id") in taken]
    if clashes:
        raise CommandError(f"id {clashes[0]!r} is already used in the configuration",
                           clashes[0])
    constraints.append(new)


def _end(env: CommandEnv, lifetime: str | None) -> str | None:
    if lifetime is None:
        return None
    return (env.now() + parse_lifetime(lifetime)).strftime("%Y-%m-%d %H:%M:%S")


def _check_movable(root: ET.Element, rsc: str, promoted: bool) -> ET.Element:
    element = cibtree.find_resource(root, rsc)
    parent = cibtree.parent_of(root, element)
    if parent is not None and parent.tag == "group":
        raise CommandError(f"{rsc} is a member of group {parent.get('id')}: move or ban the "
                           "group", rsc)
    if element.tag in ("clone", "master") and not promoted:
        raise CommandError(f"{rsc} is a clone: it runs on several nodes; use ban to keep it "
                           "off a node (or --promoted to move its promoted instance)", rsc)
    return element


def move(env: CommandEnv, rsc: str, node: str | None, lifetime: str | None = None,
         promoted: bool = False) -> Result:
    """Prefer ``node`` (``cli-prefer-<rsc>``, INFINITY); without a node, ban the current one."""
    root = ET.fromstring(env.read())
    _check_movable(root, rsc, promoted)
    if node is None:
        current = _current_nodes(env, rsc, promoted)
        if len(current) != 1:
            raise CommandError(f"{rsc} is active on {len(current)} nodes "
                               f"({', '.join(current) or 'none'}): name the node to move to",
                               rsc)
        out = ban(env, rsc, current[0], lifetime, promoted)
        return Result((info("moving-away", f"{rsc}: moving away from {current[0]}", rsc,
                            current[0]), *out.reports), "", True, out.data)
    cibtree.check_node(root, node)
    current = _current_nodes(env, rsc, promoted)
    if current == [node]:
        raise CommandError(f"{rsc} is already active on {node}", rsc)
    end = _end(env, lifetime)

    def change(root: ET.Element) -> None:
        constraints = cibtree.section(root, "constraints")
        # A ban on the destination would defeat the move: crm_resource drops it too.
        for el in list(constraints):
            if el.get("id") == f"cli-ban-{rsc}-on-{node}":
                constraints.remove(el)
        _replace_constraint(root, _cli_location(root, f"cli-prefer-{rsc}", rsc, node,
                                                "INFINITY", "Promoted" if promoted
                                                else "Started", end))

    edit(env, change)
    reports = [info("prefers", f"{rsc}: prefers {node} (constraint cli-prefer-{rsc}"
                    + (f", until {end})" if end else ")"), rsc, node, f"cli-prefer-{rsc}")]
    if current:
        reports.append(info("was-active", f"{rsc}: was active on {', '.join(current)}", rsc,
                            *current))
    return Result(tuple(reports), "", True, {"constraint": f"cli-prefer-{rsc}", "node": node,
                                             "until": end})


def ban(env: CommandEnv, rsc: str, node: str | None, lifetime: str | None = None,
        promoted: bool = False) -> Result:
    """Keep ``rsc`` off ``node`` (``cli-ban-<rsc>-on-<node>``, -INFINITY)."""
    root = ET.fromstring(env.read())
    element = cibtree.find_resource(root, rsc)
    parent = cibtree.parent_of(root, element)
    if parent is not None and parent.tag == "group":
        raise CommandError(f"{rsc} is a member of group {parent.get('id')}: ban the group", rsc)
    if node is None:
        current = _current_nodes(env, rsc, promoted)
        if len(current) != 1:
            raise CommandError(f"{rsc} is active on {len(current)} nodes "
                               f"({', '.join(current) or 'none'}): name the node to ban", rsc)
        node = current[0]
    cibtree.check_node(root, node)
    end = _end(env, lifetime)
    cid = f"cli-ban-{rsc}-on-{node}"

    def change(root: ET.Element) -> None:
        _replace_constraint(root, _cli_location(root, cid, rsc, node, "-INFINITY",
                                                "Promoted" if promoted else None, end))

    edit(env, change)
    return done("banned", f"{rsc}: banned from {node} (constraint {cid}"
                + (f", until {end})" if end else ")"), rsc, node, cid,
                data={"constraint": cid, "node": node, "until": end})


def _prefer_node(el: ET.Element) -> str | None:
    if el.get("node"):
        return el.get("node")
    for expr in el.iter("expression"):
        if expr.get("attribute") == "#uname":
            return expr.get("value")
    return None


def clear(env: CommandEnv, rsc: str, node: str | None = None) -> Result:
    """Remove the constraints move and ban created (only those for ``node`` when given)."""
    root = ET.fromstring(env.read())
    cibtree.find_resource(root, rsc)
    if node is not None:
        cibtree.check_node(root, node)

    def change(root: ET.Element) -> list[str]:
        constraints = cibtree.section(root, "constraints")
        removed = []
        for el in list(constraints):
            cid = el.get("id", "")
            ours = cid == f"cli-prefer-{rsc}" or cid.startswith(f"cli-ban-{rsc}-on-")
            if ours and (node is None or _prefer_node(el) == node):
                constraints.remove(el)
                removed.append(cid)
        return removed

    removed = edit(env, change)
    if not removed:
        return done("nothing-to-clear", f"{rsc}: no move or ban constraints"
                    + (f" for {node}" if node else ""), rsc, changed=False,
                    data={"removed": []})
    return done("cleared", f"{rsc}: removed {', '.join(removed)}", rsc, *removed,
                data={"removed": removed})


# -- status: cleanup, locate, fail counts ------------------------------------------------------


def _lrm_ids(root: ET.Element, prims: list[str], node: str | None) -> list[str]:
    """History entries of these primitives (clone instances ``id:N`` included)."""
    ids = list(prims)
    for state in root.iterfind("status/node_state"):
        if node is not None and state.get("uname") != node:
            continue
        for entry in state.iter("lrm_resource"):
            lid = entry.get("id", "")
            if lid.split(":", 1)[0] in prims and lid not in ids:
                ids.append(lid)
    return ids


def cleanup(env: CommandEnv, rsc: str | None, node: str | None = None) -> Result:
    """Forget operation history and fail counts of ``rsc`` (all resources without one);
    the cluster then probes it again (crm_resource --cleanup)."""
    root = ET.fromstring(env.read())
    if node is not None:
        cibtree.check_node(root, node)
    if rsc is None:
        prims = sorted({el.get("id", "") for el in
                        root.iterfind("configuration/resources//primitive")})
    else:
        prims = cibtree.primitive_ids(cibtree.find_resource(root, rsc))
    ids = _lrm_ids(root, prims, node)
    for lid in ids:
        env.cleanup(lid, node)
    where = f" on {node}" if node else ""
    return done("cleaned-up", f"cleaned up {', '.join(ids) or 'nothing'}{where}", *ids,
                changed=bool(ids), data={"cleaned": ids, "node": node})


def locate(env: CommandEnv, rsc: str) -> Result:
    xml = env.read()
    cibtree.find_resource(ET.fromstring(xml), rsc)
    places = locations(working_set(env, xml), rsc)
    if not places:
        return shown(f"resource {rsc} is NOT running", {"nodes": []})
    lines = [f"resource {rsc} is running on: {node}" + (" Promoted" if role == "Promoted"
                                                       else "") for node, role in places]
    return shown(lines, {"nodes": [{"node": n, "role": r} for n, r in places]})


def fail_counts(root: ET.Element, prims: list[str],
                node: str | None) -> dict[str, dict[str, str]]:
    """node -> {"<rsc>#<op>_<interval>": count} of the given primitives."""
    out: dict[str, dict[str, str]] = {}
    for state in root.iterfind("status/node_state"):
        uname = state.get("uname") or state.get("id") or ""
        if node is not None and uname != node:
            continue
        for nv in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            name = nv.get("name", "")
            if not name.startswith("fail-count-"):
                continue
            key = name[len("fail-count-"):]
            if key.rpartition("#")[0].split(":", 1)[0] in prims:
                out.setdefault(uname, {})[key] = nv.get("value", "0")
    return out


def _total(counts: dict[str, str]) -> str:
    total = 0
    for value in counts.values():
        if value.upper().lstrip("+") == "INFINITY":
            return "INFINITY"
        total += int(value) if value.lstrip("-").isdigit() else 0
    return str(min(total, 1_000_000)) if total < 1_000_000 else "INFINITY"


def failcount(env: CommandEnv, rsc: str, node: str | None = None,
              delete: bool = False) -> Result:
    """Show (or delete, through a cleanup) the fail counts of ``rsc``."""
    root = ET.fromstring(env.read())
    prims = cibtree.primitive_ids(cibtree.find_resource(root, rsc))
    if node is not None:
        cibtree.check_node(root, node)
    if delete:
        return cleanup(env, rsc, node)
    counts = fail_counts(root, prims, node)
    nodes = [node] if node else sorted(cibtree.node_names(root))
    lines = []
    for name in nodes:
        per_op = counts.get(name, {})
        detail = ", ".join(f"{k.rpartition('#')[2]}={v}" for k, v in sorted(per_op.items()))
        lines.append(f"scope=status  node={name}  name=fail-count-{rsc}  "
                     f"value={_total(per_op)}" + (f"  ({detail})" if detail else ""))
    return shown(lines, {"fail_counts": counts})
