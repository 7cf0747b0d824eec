"""Fencing configuration read from a CIB: devices, topology levels, stonith-timeout."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defib.executor.metadata import parse_duration_ms
from defib.fencing.fencer import FenceDevice, FencingLevel


@dataclass(frozen=True)
class FencingConfig:
    devices: tuple[FenceDevice, ...]
    levels: tuple[FencingLevel, ...]
    timeout_s: float = 60.0  # stonith-timeout
    enabled: bool = True  # stonith-enabled


def _nvpairs(el: ET.Element, block: str) -> dict[str, str]:
    """Rule-free name/value pairs of ``el``'s ``block`` sets; the first set naming a
    value wins, as Pacemaker orders sets without scores."""
    values: dict[str, str] = {}
    for nvset in el.findall(block):
        if nvset.find("rule") is not None:
            continue  # rule-dependent values need the rule engine: the scheduler's job
        for nv in nvset.findall("nvpair"):
            name, value = nv.get("name"), nv.get("value")
            if name is not None and value is not None:
                values.setdefault(name, value)
    return values


def fencing_from_cib(cib: ET.Element) -> FencingConfig:
    """Devices are the ``stonith`` class primitives (in clones and groups too)."""
    resources = cib.find("configuration/resources")
    devices = []
    for prim in (resources.iter("primitive") if resources is not None else ()):
        if prim.get("class") == "stonith" and prim.get("type"):
            devices.append(FenceDevice(prim.get("id", ""), prim.get("type", ""),
                                       _nvpairs(prim, "instance_attributes")))
    levels = []
    for el in cib.iterfind("configuration/fencing-topology/fencing-level"):
        levels.append(FencingLevel(
            target=el.get("target", ""),
            index=int(el.get("index", "0")),
            devices=tuple(d for d in el.get("devices", "").split(",") if d),
            target_pattern=el.get("target-pattern"),
            target_attribute=el.get("target-attribute"),
            target_value=el.get("target-value"),
        ))
    props: dict[str, str] = {}
    crm_config = cib.find("configuration/crm_config")
    if crm_config is not None:
        props = _nvpairs(crm_config, "cluster_property_set")
    timeout_ms = parse_duration_ms(props.get("stonith-timeout")) or 60000
    enabled = props.get("stonith-enabled", "true").lower() not in ("false", "0", "no", "off")
    return FencingConfig(tuple(devices), tuple(sorted(levels, key=lambda lv: lv.index)),
                         timeout_ms / 1000, enabled)
