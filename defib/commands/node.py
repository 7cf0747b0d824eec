"""``node`` commands: standby/online/maintenance and attributes as ``crm_attribute`` writes
them with the default lifetime ``forever`` (the configuration's ``nodes`` section, ids
``nodes-<id>-<name>``), utilization, and fencing requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.result import Outcome
from defib.errors import CommandError

ON_OFF = {"on": "on", "true": "on", "yes": "on", "1": "on",
          "off": "off", "false": "off", "no": "off", "0": "off"}


def _set(env: CommandEnv, node: str, tag: str, name: str, value: str | None) -> bool:
    def change(root: ET.Element) -> bool:
        element = cibtree.node_element(root, node)
        nid = element.get("id", node)
        set_id = f"nodes-{nid}" if tag == "instance_attributes" else f"nodes-{nid}-{tag}"
        return cibtree.set_nv(root, element, tag, set_id, name, value)

    return edit(env, change)


def standby(env: CommandEnv, node: str, on: bool = True) -> Outcome:
    changed = _set(env, node, "instance_attributes", "standby", "on" if on else "off")
    state = "standby" if on else "online"
    return Outcome((f"{node}: {state}" + ("" if changed else " (already)"),), changed,
                   {"node": node, "standby": on})


def online(env: CommandEnv, node: str) -> Outcome:
    return standby(env, node, on=False)


def maintenance(env: CommandEnv, node: str, on: bool = True) -> Outcome:
    changed = _set(env, node, "instance_attributes", "maintenance", "on" if on else "off")
    state = "in maintenance" if on else "out of maintenance"
    return Outcome((f"{node}: {state}" + ("" if changed else " (already)"),), changed,
                   {"node": node, "maintenance": on})


def parse_on_off(text: str) -> bool:
    value = ON_OFF.get(text.lower())
    if value is None:
        raise CommandError(f"invalid value {text!r}: give on or off", text)
    return value == "on"


def _nv_command(env: CommandEnv, node: str, tag: str, what: str, name: str | None,
                value: str | None, delete: bool) -> Outcome:
    if name is None:
        root = ET.fromstring(env.read())
        values = cibtree.all_nv(cibtree.node_element(root, node), tag)
        lines = [f"{node}: {k}={v}" for k, v in sorted(values.items())]
        return Outcome(tuple(lines) or (f"{node}: no {what}s",), False, {"values": values})
    if delete:
        changed = _set(env, node, tag, name, None)
        return Outcome((f"{node}: {what} {name} " + ("deleted" if changed else "not set"),),
                       changed)
    if value is None:
        root = ET.fromstring(env.read())
        current = cibtree.get_nv(cibtree.node_element(root, node), tag, name)
        if current is None:
            raise CommandError(f"{node} has no {what} {name!r}", name)
        return Outcome((f"{node}: {name}={current}",), False, {"value": current})
    changed = _set(env, node, tag, name, value)
    return Outcome((f"{node}: {name}={value}" + ("" if changed else " (unchanged)"),), changed)


def attribute(env: CommandEnv, node: str, name: str | None = None, value: str | None = None,
              delete: bool = False) -> Outcome:
    """List, get, set or delete a permanent node attribute."""
    return _nv_command(env, node, "instance_attributes", "attribute", name, value, delete)


def utilization(env: CommandEnv, node: str, name: str | None = None,
                value: str | None = None, delete: bool = False) -> Outcome:
    """List, get, set or delete a node's utilization (capacity) value; an integer."""
    if value is not None and not value.lstrip("-").isdigit():
        raise CommandError(f"invalid utilization {name}={value!r}: an integer is needed", value)
    return _nv_command(env, node, "utilization", "utilization", name, value, delete)


def fence(env: CommandEnv, node: str) -> Outcome:
    root = ET.fromstring(env.read())
    cibtree.check_node(root, node)
    return Outcome((env.fence(node),), True, {"node": node})
