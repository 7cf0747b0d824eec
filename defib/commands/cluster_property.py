"""``property``: list, get, set and delete cluster options in ``cib-bootstrap-options``
(as ``crm_attribute --type crm_config`` does), validated against the known options."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.options import OPTIONS, validate
from defib.commands.report import info, warning
from defib.commands.result import Result, done, shown
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


def show(env: CommandEnv, name: str | None = None, all_options: bool = False) -> Result:
    values = configured(ET.fromstring(env.read()))
    if name is None:
        names = sorted(set(values) | (set(OPTIONS) if all_options else set()))
        lines = [f"{n}={values[n]}" if n in values else f"{n}={OPTIONS[n].default} (default)"
                 for n in names]
        return shown(lines or ["no cluster options set (all defaults)"],
                     {"properties": values})
    if name not in values:
        _check(name)
        default = OPTIONS[name].default
        return shown(f"{name}={default} (default)",
                     {"name": name, "value": default, "default": True})
    return shown(f"{name}={values[name]}", {"name": name, "value": values[name]})


def set_property(env: CommandEnv, name: str, value: str) -> Result:
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
    reports = [info("property-set" if changed else "property-unchanged",
                    f"{name}={value}" + ("" if changed else " (unchanged)"), name)]
    if OPTIONS[name].deprecated:
        reports.append(warning("deprecated-option", f"{name} is a deprecated option", name))
    return Result(tuple(reports), "", changed, {"name": name, "value": value})


def delete(env: CommandEnv, name: str) -> Result:
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
    return done("property-deleted" if removed else "property-not-set",
                f"{name} " + (f"deleted (default {default or 'none'} applies)" if removed
                              else "was not set"), name, changed=removed,
                data={"name": name})
