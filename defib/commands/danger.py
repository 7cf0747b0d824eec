"""What makes a change dangerous, judged on the CIB before and after it (as data: the CLI
asks for confirmation, a web interface would too).

Dangerous: erasing the configuration, deleting or stopping resources that run, replacing a
live cluster's configuration by another, fencing a node. The preview is the configuration
text before and after, as a unified diff.
"""

from __future__ import annotations

import datetime as dt
import difflib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING

from defib.commands.report import Report

if TYPE_CHECKING:
    from defib.commands.env import CommandEnv

RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle")


# A danger is a report like any other: a warning with its code (erase, delete-running,
# stop-running, replace-live, fence, ticket-stops-resources), its message and ids.
Danger = Report


def danger(code: str, message: str, ids: tuple[str, ...] = ()) -> Danger:
    return Report(code, message, severity="warning", ids=ids)


def running(xml: str) -> dict[str, list[str]]:
    """Primitive id -> nodes where the status section shows it active."""
    try:
        from defib.controller.cibinput import parse_input
        from defib.scheduler.pipeline import unpack

        ws = unpack(parse_input(xml), dt.datetime.now())
        out: dict[str, list[str]] = {}
        for prim in ws.all_primitives():
            if prim.running_on:
                out.setdefault(prim.base_id(), []).extend(n.uname for n in prim.running_on)
        return out
    except Exception:  # noqa: BLE001 - a CIB the scheduler cannot read: judge by history
        return _history_only(xml)


def _history_only(xml: str) -> dict[str, list[str]]:
    """Every resource with a recorded start, monitor or promote that succeeded counts as
    running: when in doubt, ask."""
    out: dict[str, list[str]] = {}
    root = ET.fromstring(xml)
    for state in root.iterfind("status/node_state"):
        for res in state.iter("lrm_resource"):
            ops = [op for op in res.iter("lrm_rsc_op") if op.get("rc-code") in ("0", "8")]
            last = ops[-1].get("operation") if ops else None
            if last in ("start", "monitor", "promote", "migrate_from"):
                out.setdefault(res.get("id", "").split(":")[0], []).append(
                    state.get("uname", ""))
    return out


def _objects(conf: ET.Element | None) -> int:
    if conf is None:
        return 0
    return sum(len(section) for section in conf if section.tag != "nodes")


def _stopped(root: ET.Element) -> set[str]:
    """Primitives whose own or an enclosing resource's target-role is Stopped."""
    out: set[str] = set()

    def walk(el: ET.Element, stopped: bool) -> None:
        for nv in el.iterfind("meta_attributes/nvpair"):
            if nv.get("name") == "target-role":
                stopped = stopped or (nv.get("value") or "").lower() == "stopped"
        if el.tag == "primitive" and stopped:
            out.add(el.get("id", ""))
        for child in el:
            if child.tag in RESOURCE_TAGS:
                walk(child, stopped)

    for top in root.iterfind("configuration/resources/*"):
        walk(top, False)
    return out


def _primitives(root: ET.Element) -> set[str]:
    return {p.get("id", "") for p in root.iterfind("configuration/resources//primitive")}


def _where(active: dict[str, list[str]], ids: list[str]) -> str:
    return ", ".join(f"{i} (on {', '.join(sorted(set(active[i])))})" for i in ids)


def dangers(before_xml: str, after_xml: str, live: bool = False,
            replacing: bool = False) -> list[Danger]:
    """What is dangerous in going from ``before_xml`` to ``after_xml``. ``live``: the CIB is a
    running cluster's; ``replacing``: the whole configuration is replaced (``cib import``)."""
    before, after = ET.fromstring(before_xml), ET.fromstring(after_xml)
    found: list[Danger] = []
    had = _objects(before.find("configuration"))
    if had and not _objects(after.find("configuration")):
        found.append(danger("erase", f"this erases the whole configuration ({had} objects)"))
    elif replacing and live and had:
        found.append(danger("replace-live", f"this replaces the running cluster's "
                                            f"configuration ({had} objects)"))
    active = running(before_xml)
    gone = sorted(i for i in _primitives(before) - _primitives(after) if i in active)
    if gone:
        found.append(danger("delete-running", "this deletes running resources: "
                            + _where(active, gone), tuple(gone)))
    stopped = sorted(i for i in (_stopped(after) - _stopped(before)) & _primitives(after)
                     if i in active)
    if stopped:
        found.append(danger("stop-running", "this stops running resources: "
                            + _where(active, stopped), tuple(stopped)))
    return found


def preview(before_xml: str, after_xml: str) -> str:
    """The change as a unified diff of the configuration text (crmsh syntax)."""
    from defib.configure.render import render

    def text(xml: str) -> list[str]:
        conf = ET.fromstring(xml).find("configuration")
        return render(conf).splitlines(keepends=True) if conf is not None else []

    return "".join(difflib.unified_diff(text(before_xml), text(after_xml), "configuration now",
                                        "configuration after"))


def trial(env: CommandEnv, change: Callable[[CommandEnv], object]) -> tuple[list[Danger], str]:
    """What is dangerous about ``change`` and the configuration diff it makes, found by
    running it on an in-memory copy of ``env``'s CIB first (nothing is written)."""
    from defib.commands.env import MemoryEnv

    before = env.read()
    copy = MemoryEnv(before, is_live=False)
    change(copy)
    return dangers(before, copy.xml, live=env.live), preview(before, copy.xml)
