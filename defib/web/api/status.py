"""The status the pages show: ``defib status --json`` (membership, nodes, resources by group,
clone and bundle, failures, fail counts, tickets, fencing) plus what an administrator must
notice at once (warnings), the tags, and the ``cli-`` constraints that ``move`` and ``ban``
left (so that the page can offer to clear them)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defib.commands.cluster_status import cluster_status
from defib.commands.env import CommandEnv
from defib.commands.status import _rsc_dict, resource_status
from defib.scheduler.working import BundleRt
from defib.web.contract import Route, WebRequest, WebResponse

TRUE = ("true", "yes", "on", "1", "y")


def _property(root: ET.Element, name: str) -> str | None:
    for nv in root.iterfind("./configuration/crm_config/cluster_property_set/nvpair"):
        if nv.get("name") == name:
            return nv.get("value")
    return None


def tags(root: ET.Element) -> dict[str, list[str]]:
    return {tag.get("id", ""): [ref.get("id", "") for ref in tag.iter("obj_ref")]
            for tag in root.iterfind("./configuration/tags/tag")}


def cli_constraints(root: ET.Element) -> list[dict[str, str]]:
    """The location constraints ``move`` and ``ban`` create (``cli-prefer-*``, ``cli-ban-*``)."""
    out = []
    for loc in root.iterfind("./configuration/constraints/rsc_location"):
        cid = loc.get("id", "")
        if cid.startswith(("cli-prefer-", "cli-ban-")):
            out.append({"id": cid, "rsc": loc.get("rsc", ""), "node": loc.get("node", ""),
                        "kind": "prefer" if cid.startswith("cli-prefer-") else "ban",
                        "role": loc.get("role", "")})
    return out


def warnings(data: dict[str, Any], root: ET.Element) -> list[str]:
    out = []
    quorum = data.get("quorum") or {}
    if quorum and not quorum.get("quorate"):
        out.append("this partition has no quorum: resources stop (no-quorum-policy)")
    if not data.get("dc") and "dc" in data:
        out.append("no DC elected yet: nothing is being scheduled")
    if (_property(root, "stonith-enabled") or "true").lower() not in TRUE:
        out.append("fencing is disabled (stonith-enabled=false): a failed node's resources "
                   "may run twice")
    if (_property(root, "maintenance-mode") or "false").lower() in TRUE:
        out.append("the cluster is in maintenance mode: nothing is started, stopped or "
                   "monitored")
    for node in data.get("cib_nodes", []):
        if node.get("unclean"):
            out.append(f"node {node['name']} is UNCLEAN: it must be fenced before its "
                       "resources run elsewhere")
    scheduler = data.get("scheduler")
    if scheduler:
        out.append(f"the scheduler fails on the CIB ({scheduler.get('failures')} runs): "
                   f"{scheduler.get('error')}")
    for target, info in sorted((data.get("fencing") or {}).items()):
        out.append(f"fencing of {target}: {info.get('state') or info.get('message') or info}")
    return out


def _bundle(bundle: BundleRt) -> dict[str, Any]:
    """A bundle with its replicas, each with what runs in it (address, container, remote
    connection, child), instead of the clone-like view of its containers only."""
    replicas = [{"kind": "replica", "id": f"{bundle.id}[{r.index}]",
                 "children": [_rsc_dict(p) for p in (r.ip, r.container, r.connection, r.child)
                              if p is not None]}
                for r in bundle.replicas]
    return {"kind": "bundle", "id": bundle.id, "container_type": bundle.container_type,
            "managed": bundle.managed, "children": replicas}


def snapshot(env: CommandEnv) -> dict[str, Any]:
    """Everything the status page shows, as one JSON-able document: ``defib status --json``
    (the same library call), and more."""
    data = dict(cluster_status(env).data)
    root = ET.fromstring(env.read())
    if root.find("./configuration/resources//bundle") is not None:
        # The status shows a bundle like a clone of its containers: show its replicas.
        report = resource_status(env)
        bundles = {r.id: r for r in report.ws.resources if isinstance(r, BundleRt)}
        data["resources"] = [_bundle(bundles[r["id"]]) if r["id"] in bundles else r
                             for r in data["resources"]]
    return {"ok": True, **data, "tags": tags(root), "cli_constraints": cli_constraints(root),
            "warnings": warnings(data, root)}


def get_status(request: WebRequest) -> WebResponse:
    return WebResponse(snapshot(request.env))


ROUTES = [Route("GET", "/api/status", get_status)]
