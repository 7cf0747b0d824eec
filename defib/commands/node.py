"""``node`` commands: standby/online/maintenance and attributes as ``crm_attribute`` writes
them with the default lifetime ``forever`` (the configuration's ``nodes`` section, ids
``nodes-<id>-<name>``), utilization, and fencing requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands import cibtree
from defib.commands.env import CommandEnv, edit
from defib.commands.report import info
from defib.commands.result import Result, done, shown
from defib.errors import CommandError

ON_OFF = {"on": "on", "true": "on", "yes": "on", "1": "on",
          "off": "off", "false": "off", "no": "off", "0": "off"}


LIFETIMES = ("forever", "reboot")


def _check_lifetime(lifetime: str) -> None:
    if lifetime not in LIFETIMES:
        raise CommandError(f"invalid lifetime {lifetime!r}: forever (the configuration) or "
                           "reboot (a transient attribute, gone when the node restarts)",
                           lifetime)


def transient_attributes(root: ET.Element, node: str) -> dict[str, str]:
    from defib.attrd.store import get_attrs

    for state in root.iterfind("status/node_state"):
        if state.get("uname") == node:
            return get_attrs(state)
    return {}


def _set(env: CommandEnv, node: str, tag: str, name: str, value: str | None,
         lifetime: str = "forever") -> bool:
    _check_lifetime(lifetime)
    if lifetime == "reboot":
        root = ET.fromstring(env.read())
        cibtree.check_node(root, node)
        if transient_attributes(root, node).get(name) == value:
            return False
        env.set_transient(node, name, value)
        return True

    def change(root: ET.Element) -> bool:
        element = cibtree.node_element(root, node)
        nid = element.get("id", node)
        set_id = f"nodes-{nid}" if tag == "instance_attributes" else f"nodes-{nid}-{tag}"
        return cibtree.set_nv(root, element, tag, set_id, name, value)

    return edit(env, change)


def standby(env: CommandEnv, node: str, on: bool = True, lifetime: str = "forever") -> Result:
    changed = _set(env, node, "instance_attributes", "standby", "on" if on else "off",
                   lifetime)
    state = "standby" if on else "online"
    return done("standby" if on else "online", f"{node}: {state}"
                + ("" if changed else " (already)"), node, changed=changed,
                data={"node": node, "standby": on})


def online(env: CommandEnv, node: str, lifetime: str = "forever") -> Result:
    out = standby(env, node, False, lifetime)
    transient = transient_attributes(ET.fromstring(env.read()), node).get("standby", "off")
    if lifetime == "forever" and ON_OFF.get(transient.lower()) == "on":
        # A transient standby would keep the node in standby: online means online.
        env.set_transient(node, "standby", None)
        return Result((*out.reports, info("transient-standby-removed",
                                          f"{node}: transient standby removed", node)),
                      "", True, out.data)
    return out


def maintenance(env: CommandEnv, node: str, on: bool = True,
                lifetime: str = "forever") -> Result:
    changed = _set(env, node, "instance_attributes", "maintenance", "on" if on else "off",
                   lifetime)
    state = "in maintenance" if on else "out of maintenance"
    return done("maintenance" if on else "ready", f"{node}: {state}"
                + ("" if changed else " (already)"), node, changed=changed,
                data={"node": node, "maintenance": on})


def parse_on_off(text: str) -> bool:
    value = ON_OFF.get(text.lower())
    if value is None:
        raise CommandError(f"invalid value {text!r}: give on or off", text)
    return value == "on"


def _nv_command(env: CommandEnv, node: str, tag: str, what: str, name: str | None,
                value: str | None, delete: bool, lifetime: str = "forever") -> Result:
    _check_lifetime(lifetime)

    def read_all() -> dict[str, str]:
        root = ET.fromstring(env.read())
        if lifetime == "reboot":
            cibtree.check_node(root, node)
            return transient_attributes(root, node)
        return cibtree.all_nv(cibtree.node_element(root, node), tag)

    if name is None:
        values = read_all()
        lines = [f"{node}: {k}={v}" for k, v in sorted(values.items())]
        return shown(lines or [f"{node}: no {what}s"], {"values": values})
    if delete:
        changed = _set(env, node, tag, name, None, lifetime)
        return done(f"{tag}-deleted", f"{node}: {what} {name} "
                    + ("deleted" if changed else "not set"), node, changed=changed,
                    data={"node": node, "name": name})
    if value is None:
        current = read_all().get(name)
        if current is None:
            raise CommandError(f"{node} has no {what} {name!r}", name)
        return shown(f"{node}: {name}={current}", {"value": current})
    changed = _set(env, node, tag, name, value, lifetime)
    return done(f"{tag}-set", f"{node}: {name}={value}" + ("" if changed else " (unchanged)"),
                node, changed=changed, data={"node": node, "name": name, "value": value})


def attribute(env: CommandEnv, node: str, name: str | None = None, value: str | None = None,
              delete: bool = False, lifetime: str = "forever") -> Result:
    """List, get, set or delete a node attribute: permanent (``forever``, the nodes
    section) or transient (``reboot``, the status section, written by the DC)."""
    return _nv_command(env, node, "instance_attributes", "attribute", name, value, delete,
                       lifetime)


def utilization(env: CommandEnv, node: str, name: str | None = None,
                value: str | None = None, delete: bool = False) -> Result:
    """List, get, set or delete a node's utilization (capacity) value; an integer."""
    if value is not None and not value.lstrip("-").isdigit():
        raise CommandError(f"invalid utilization {name}={value!r}: an integer is needed", value)
    return _nv_command(env, node, "utilization", "utilization", name, value, delete)


def fence(env: CommandEnv, node: str, confirm: bool = False) -> Result:
    root = ET.fromstring(env.read())
    cibtree.check_node(root, node)
    return done("fence-requested", env.fence(node, confirm), node, data={"node": node})


def listing(env: CommandEnv) -> Result:
    """Every node with its id, state and permanent attributes (crm node list)."""
    from defib.commands.placement import working_set

    xml = env.read()
    root = ET.fromstring(xml)
    ws = working_set(env, xml)
    lines, data = [], []
    for node in ws.nodes:
        state = ("standby" if node.standby else "online") if node.online else (
            "UNCLEAN (offline)" if node.unclean else "offline")
        if node.maintenance:
            state += ", maintenance"
        element = next((el for el in root.iterfind("configuration/nodes/node")
                        if el.get("id") == node.id), None)
        attrs = cibtree.all_nv(element, "instance_attributes") if element is not None else {}
        lines.append(f"{node.uname}({node.id}): {node.type}: {state}")
        lines += [f"\t{k}={v}" for k, v in sorted(attrs.items())]
        data.append({"name": node.uname, "id": node.id, "type": node.type, "state": state,
                     "online": node.online, "attributes": attrs})
    return shown(lines or ["no nodes"], {"nodes": data})


def clearstate(env: CommandEnv, node: str) -> Result:
    """Forget what the status section records of ``node``: every resource's history there
    and its transient attributes (crm node clearstate); the cluster probes it again when it
    rejoins. Refused for a node that is online (its state is what it reports)."""
    root = ET.fromstring(env.read())
    cibtree.check_node(root, node)
    _refuse_online(env, node, "clear the state of")
    ids = sorted({e.get("id", "") for state in root.iterfind("status/node_state")
                  if state.get("uname") == node for e in state.iter("lrm_resource")})
    for lid in ids:
        env.cleanup(lid, node)
    attrs = sorted(transient_attributes(ET.fromstring(env.read()), node))
    for name in attrs:
        env.set_transient(node, name, None)
    return done("state-cleared", f"{node}: state cleared ({len(ids)} resource histories, "
                f"{len(attrs)} transient attributes)", node, changed=bool(ids or attrs),
                data={"node": node, "resources": ids, "attributes": attrs})


def _refuse_online(env: CommandEnv, node: str, what: str) -> None:
    from defib.commands.placement import working_set

    if any(n.uname == node and n.online for n in working_set(env).nodes):
        raise CommandError(f"{node} is online: cannot {what} a running node (stop it first)",
                           node, code="node-online")


def delete(env: CommandEnv, node: str) -> Result:
    """Remove ``node`` from the configuration (crm node delete): its entry in the nodes
    section and the constraints that name it only. Refused while it is online."""
    root = ET.fromstring(env.read())
    cibtree.check_node(root, node)
    _refuse_online(env, node, "delete")

    def change(root: ET.Element) -> list[str]:
        removed = []
        nodes = cibtree.section(root, "nodes")
        for el in nodes.findall("node"):
            if (el.get("uname") or el.get("id")) == node:
                nodes.remove(el)
                removed.append(el.get("id", node))
        constraints = cibtree.section(root, "constraints")
        for el in constraints.findall("rsc_location"):
            if el.get("node") == node:
                constraints.remove(el)
                removed.append(el.get("id", ""))
        return removed

    removed = edit(env, change)
    return done("node-deleted" if removed else "node-not-configured",
                f"{node}: " + (f"deleted ({', '.join(removed)})" if removed
                               else "not in the configuration"), node, *removed,
                changed=bool(removed), data={"node": node, "removed": removed})
