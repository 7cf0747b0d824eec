"""``property``: list, get, set and delete cluster options in ``cib-bootstrap-options``
(as ``crm_attribute --type crm_config`` does), validated against the known options."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.options import OPTIONS, validate
from defib.commands.result import Outcome
from defib.errors import UnknownReferenceError

SET_ID = "cib-bootstrap-options"


def _check(name: str) -> None:
    if name not in OPTIONS:
        raise UnknownReferenceError(f"unknown cluster option {name!r}"
                                    + cibtree.did_you_mean(name, sorted(OPTIONS)), name)


def configured(root: ET.Element) -> dict[str, str]:
    values: dict[str, str] = {}
    for nvset in root.iterfind("configuration/crm_config/cluster_property_set"):
        for nv in nvset.findall("nvpair"):
            values.setdefault(nv.get("name", ""), nv.get("value", ""))
    return values


def _bootstrap(root: ET.Element) -> ET.Element:
    crm_config = cibtree.section(root, "crm_config")
    for nvset in crm_config.findall("cluster_property_set"):
        if nvset.get("id") == SET_ID:
            return nvset
    new = ET.Element("cluster_property_set", {"id": SET_ID})
    crm_config.insert(0, new)
    return new


def show(env: CommandEnv, name: str | None = None, all_options: bool = False) -> Outcome:
    values = configured(ET.fromstring(env.read()))
    if name is None:
        names = sorted(set(values) | (set(OPTIONS) if all_options else set()))
        lines = [f"{n}={values[n]}" if n in values else f"{n}={OPTIONS[n].default} (default)"
                 for n in names]
        return Outcome(tuple(lines) or ("no cluster options set (all defaults)",), False,
                       {"properties": values})
    if name not in values:
        _check(name)
        default = OPTIONS[name].default
        return Outcome((f"{name}={default} (default)",), False,
                       {"name": name, "value": default, "default": True})
    return Outcome((f"{name}={values[name]}",), False, {"name": name, "value": values[name]})


def set_property(env: CommandEnv, name: str, value: str) -> Outcome:
    _check(name)
    value = validate(name, value)

    def change(root: ET.Element) -> bool:
        # Other sets may hold the option too; keep one value in effect.
        changed = False
        for nvset in root.iterfind("configuration/crm_config/cluster_property_set"):
            if nvset.get("id") != SET_ID:
                for nv in nvset.findall("nvpair"):
                    if nv.get("name") == name and nv.get("value") != value:
                        nvset.remove(nv)
                        changed = True
        owner = _bootstrap(root)
        for nv in owner.findall("nvpair"):
            if nv.get("name") == name:
                if nv.get("value") == value:
                    return changed
                nv.set("value", value)
                return True
        ET.SubElement(owner, "nvpair", {"id": cibtree.unique_id(root, f"{SET_ID}-{name}"),
                                        "name": name, "value": value})
        return True

    changed = edit(env, change)
    note = "" if not OPTIONS[name].deprecated else " (deprecated option)"
    return Outcome((f"{name}={value}" + ("" if changed else " (unchanged)") + note,), changed,
                   {"name": name, "value": value})


def delete(env: CommandEnv, name: str) -> Outcome:
    def change(root: ET.Element) -> bool:
        removed = False
        for nvset in root.iterfind("configuration/crm_config/cluster_property_set"):
            for nv in nvset.findall("nvpair"):
                if nv.get("name") == name:
                    nvset.remove(nv)
                    removed = True
        return removed

    removed = edit(env, change)
    if not removed and name not in OPTIONS:
        _check(name)
    default = OPTIONS[name].default if name in OPTIONS else ""
    return Outcome((f"{name} " + (f"deleted (default {default or 'none'} applies)" if removed
                                  else "was not set"),), removed, {"name": name})
