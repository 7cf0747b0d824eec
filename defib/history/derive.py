"""Events from the difference between two CIBs (pure: trees in, events out).

The replicated CIB is copy-on-write: a section or ``node_state`` that did not change is the
very same element in both trees, so unchanged parts are skipped by identity and a diff costs
in proportion to what changed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from defib.history.store import HistoryEvent

RC_NAMES = {0: "ok", 1: "generic error", 2: "invalid argument", 3: "unimplemented",
            4: "insufficient privileges", 5: "not installed", 6: "not configured",
            7: "not running", 8: "running promoted", 9: "failed promoted"}
STATUS_NAMES = {-1: "pending", 1: "cancelled", 2: "timed out", 3: "not supported",
                4: "error", 5: "hard error", 6: "fatal error", 7: "not installed"}
CONFIG_SECTIONS = ("crm_config", "nodes", "resources", "constraints", "rsc_defaults",
                   "op_defaults", "fencing-topology", "acls", "tags", "alerts")


def cib_events(old: ET.Element | None, new: ET.Element, ts: float,
               origin: str | None = None) -> list[HistoryEvent]:
    if old is None or old is new:
        return []
    out = config_events(old, new, ts) + status_events(old, new, ts)
    for event in out:
        event.origin = origin
    return out


# -- configuration --------------------------------------------------------------------------

def config_events(old: ET.Element, new: ET.Element, ts: float) -> list[HistoryEvent]:
    old_conf, new_conf = old.find("configuration"), new.find("configuration")
    if old_conf is new_conf or new_conf is None:
        return []
    before = dict(_config_items(old_conf)) if old_conf is not None else {}
    after = dict(_config_items(new_conf))
    user = new.get("update-user")
    epoch = f"{new.get('admin_epoch', '0')}.{new.get('epoch', '0')}"
    by = f" by {user}" if user else ""
    out: list[HistoryEvent] = []
    for key in sorted({*before, *after}, key=lambda k: (k[0], k[1])):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was[1] == now[1]:
            continue
        section, ident = key
        what = (now or was)[0]  # type: ignore[index]
        verb = "added" if was is None else "removed" if now is None else "changed"
        if section == "crm_config":
            value = now[2] if now is not None else None
            summary = (f"property {ident} {'unset' if value is None else '= ' + value}{by}")
        else:
            summary = f"{what.tag} {ident} {verb}{by}"
        out.append(HistoryEvent(
            ts=ts, kind="config", summary=summary, rsc=_concerned(what), user=user,
            detail={"section": section, "id": ident, "change": verb, "epoch": epoch,
                    "xml": now[1] if now is not None else None}))
    return out


def _config_items(conf: ET.Element) -> Iterator[tuple[tuple[str, str],
                                                        tuple[ET.Element, str, str | None]]]:
    for section in CONFIG_SECTIONS:
        element = conf.find(section)
        if element is None:
            continue
        if section == "crm_config":
            for nvpair in element.iter("nvpair"):
                name = nvpair.get("name", "")
                yield (section, name), (nvpair, nvpair.get("value", ""), nvpair.get("value"))
            continue
        for child in element:
            ident = child.get("id", child.tag)
            yield (section, ident), (child, _canonical(child), None)


def _canonical(element: ET.Element) -> str:
    """The element's content without layout: whitespace between elements and the order of
    attributes do not make a change."""
    attrs = " ".join(f"{k}={v!r}" for k, v in sorted(element.attrib.items()))
    text = (element.text or "").strip()
    inner = "".join(_canonical(child) for child in element)
    return f"<{element.tag} {attrs}>{text}{inner}</{element.tag}>"


def _concerned(element: ET.Element) -> str | None:
    """The resource a configuration item is about: its own id, or a constraint's rsc."""
    if element.tag in ("primitive", "group", "clone", "master", "bundle", "template"):
        return element.get("id")
    return element.get("rsc") or element.get("first") or None


# -- status ---------------------------------------------------------------------------------

def status_events(old: ET.Element, new: ET.Element, ts: float) -> list[HistoryEvent]:
    old_status, new_status = old.find("status"), new.find("status")
    if old_status is new_status or new_status is None:
        return []
    previous = {s.get("id"): s for s in (old_status if old_status is not None else [])
                if s.tag == "node_state"}
    out: list[HistoryEvent] = []
    for state in new_status.iterfind("node_state"):
        was = previous.get(state.get("id"))
        if was is state:
            continue
        out += _node_events(was, state, ts)
        out += _operation_events(was, state, ts)
    return out


def _node_events(was: ET.Element | None, now: ET.Element, ts: float) -> list[HistoryEvent]:
    name = now.get("uname") or now.get("id") or "?"
    old = was.attrib if was is not None else {}
    fenced = now.get("crm-debug-origin") == "send_stonith_update"
    if fenced and old.get("crm-debug-origin") != "send_stonith_update":
        return [HistoryEvent(ts=ts, kind="fencing", node=name,
                             summary=f"{name} was fenced (its resources are known stopped)")]
    was_in = old.get("crmd") == "online" and old.get("in_ccm") == "true"
    is_in = now.get("crmd") == "online" and now.get("in_ccm") == "true"
    joined = old.get("join") != "member" and now.get("join") == "member"
    if is_in and (not was_in or joined) and now.get("join") == "member":
        return [HistoryEvent(ts=ts, kind="node", node=name, summary=f"{name} is a member")]
    if was_in and not is_in:
        how = "left cleanly" if now.get("expected") == "down" else "was lost"
        return [HistoryEvent(ts=ts, kind="node", node=name, summary=f"{name} {how}")]
    return []


def _resources(state: ET.Element | None) -> dict[str, ET.Element]:
    """A node's ``lrm_resource`` entries by resource id."""
    lrm = state.find("lrm") if state is not None else None
    resources = lrm.find("lrm_resources") if lrm is not None else None
    if resources is None:
        return {}
    # The children directly: a path search costs several times more per entry.
    return {rsc.get("id", ""): rsc for rsc in resources if rsc.tag == "lrm_resource"}


def _operation_events(was: ET.Element | None, now: ET.Element,
                      ts: float) -> list[HistoryEvent]:
    name = now.get("uname") or now.get("id") or "?"
    before, after = _resources(was), _resources(now)
    changed: list[tuple[str, ET.Element, ET.Element | None]] = []
    for rsc, entry in after.items():
        old_entry = before.get(rsc)
        if old_entry is entry:
            # Copy-on-write: an entry no result touched is the very same element. Without
            # this, every recorded result re-read the node's whole history (hundreds of
            # resources: a quarter of each daemon's time while 300 resources started).
            continue
        old_ops = ({op.get("id", ""): op for op in old_entry.iterfind("lrm_rsc_op")}
                   if old_entry is not None else {})
        changed += [(rsc, op, old_ops.get(op.get("id", "")))
                    for op in entry.iterfind("lrm_rsc_op")]
    out: list[HistoryEvent] = []
    seen: set[tuple[str, str | None]] = set()  # a failure is also its resource's last result
    changed.sort(key=lambda item: "_last_failure_" in item[1].get("id", ""))
    for rsc, op, old in changed:
        if old is not None and all(old.get(a) == op.get(a) for a in (
                "call-id", "rc-code", "op-status", "transition-key")):
            continue
        if (rsc, op.get("call-id")) in seen:
            continue
        seen.add((rsc, op.get("call-id")))
        out.append(operation_event(rsc, name, op, ts))
    # Histories emptied or removed (an identical entry has the same operations).
    gone = {rsc for rsc, entry in before.items() if after.get(rsc) is not entry
            and entry.find("lrm_rsc_op") is not None
            and (rsc not in after or after[rsc].find("lrm_rsc_op") is None)}
    if now.get("crm-debug-origin") != "send_stonith_update":
        for rsc in sorted(gone):
            out.append(HistoryEvent(ts=ts, kind="operation", rsc=rsc, node=name,
                                    summary=f"history of {rsc} on {name} cleared"))
    return out


def operation_event(rsc: str, node: str, op: ET.Element, ts: float) -> HistoryEvent:
    task = op.get("operation", "?")
    interval = int(op.get("interval", "0") or 0)
    rc = _int(op.get("rc-code"), 0)
    status = _int(op.get("op-status"), 0)
    key = (op.get("transition-key") or "").split(":")
    transition = _int(key[1], -1) if len(key) > 2 else -1
    expected = _int(key[2], 0) if len(key) > 2 else 0
    label = "probe" if task == "monitor" and interval == 0 else task
    if interval:
        label = f"{task} ({interval // 1000 if interval % 1000 == 0 else interval / 1000}s)"
    if status not in (0, -1) and status in STATUS_NAMES:
        result = STATUS_NAMES[status]
    else:
        result = "running" if label == "probe" and rc == 0 else RC_NAMES.get(rc, f"rc {rc}")
    if label == "probe":  # finding it running or stopped is what a probe is for
        failed = status not in (0, -1) or rc not in (0, 7, 8)
    else:
        failed = status not in (0, -1) or rc != expected
    summary = f"{label} of {rsc} on {node}: {result}" + (" — FAILED" if failed else "")
    return HistoryEvent(
        ts=ts, kind="operation", rsc=rsc, node=node,
        transition=transition if transition >= 0 else None, summary=summary,
        detail={"operation": task, "interval_ms": interval, "rc": rc, "status": status,
                "expected_rc": expected, "failed": failed, "call_id": op.get("call-id"),
                "exec_ms": _int(op.get("exec-time"), 0),
                "last_rc_change": _int(op.get("last-rc-change"), 0)})


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
