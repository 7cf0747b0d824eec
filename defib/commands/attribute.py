"""``attribute``: crm_attribute's interface over the library's property and node attribute
commands — one name in one scope: ``crm_config`` (cluster options), ``nodes`` (permanent node
attributes, or node utilization), ``status`` (transient node attributes); query, update,
delete, with crm_attribute's output (``scope=... name=... value=...``, or the value only)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands import cibtree
from defib.commands import cluster_property as prop
from defib.commands import node as nodes
from defib.commands.env import CommandEnv
from defib.commands.result import Result, shown
from defib.errors import CommandError

SCOPES = ("crm_config", "nodes", "status")
# crm_attribute's exit status when the attribute is not set (CRM_EX_NOSUCH).
EXIT_NOSUCH = 105


def scope_of(scope: str | None, node: str | None, lifetime: str | None) -> str:
    """crm_attribute's defaults: a node means its attributes (``reboot``: transient ones),
    otherwise cluster options."""
    if scope is not None:
        if scope not in SCOPES:
            raise CommandError(f"invalid scope {scope!r}: crm_config, nodes or status",
                               scope, code="usage")
        return scope
    if node is None:
        return "crm_config"
    return "status" if lifetime == "reboot" else "nodes"


def _current(env: CommandEnv, scope: str, name: str, node: str | None,
             utilization: bool) -> str | None:
    root = ET.fromstring(env.read())
    if scope == "crm_config":
        return prop.configured(root).get(name)
    assert node is not None
    if scope == "status":
        cibtree.check_node(root, node)
        return nodes.transient_attributes(root, node).get(name)
    element = cibtree.node_element(root, node)
    return cibtree.get_nv(element, "utilization" if utilization else "instance_attributes",
                          name)


def attribute(env: CommandEnv, name: str, scope: str | None = None, node: str | None = None,
              value: str | None = None, delete: bool = False, lifetime: str | None = None,
              default: str | None = None, utilization: bool = False,
              quiet: bool = False) -> Result:
    """Query (no ``value``, not ``delete``), update or delete ``name`` in its scope."""
    scope = scope_of(scope, node, lifetime)
    if scope != "crm_config" and node is None:
        raise CommandError(f"scope {scope} needs a node (--node)", name, code="usage")
    if value is not None or delete:
        return _write(env, scope, name, node, None if delete else value, utilization)
    current = _current(env, scope, name, node, utilization)
    if current is None and default is not None:
        current = default
    if current is None:
        # crm_attribute answers "not found" for an unset cluster option too (its default
        # is not stored): --default says what to show instead.
        raise CommandError(f"attribute {name!r} is not set in {scope}"
                           + (f" for {node}" if node else ""), name,
                           code="attribute-not-set")
    where = f"node={node}  " if node else ""
    line = current if quiet else f"scope={scope}  {where}name={name} value={current}"
    return shown(line, {"scope": scope, "node": node, "name": name, "value": current})


def _write(env: CommandEnv, scope: str, name: str, node: str | None, value: str | None,
           utilization: bool) -> Result:
    if scope == "crm_config":
        return prop.delete(env, name) if value is None else prop.set_property(env, name, value)
    assert node is not None
    if utilization:
        return nodes.utilization(env, node, name, value, value is None)
    lifetime = "reboot" if scope == "status" else "forever"
    return nodes.attribute(env, node, name, value, value is None, lifetime)
