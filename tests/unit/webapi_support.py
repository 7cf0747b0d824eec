"""Helpers of the web API unit tests: a small two-node CIB with ``web`` running on node1,
requests as the server would build them, and a private sandbox directory."""

from __future__ import annotations

from typing import Any

from defib.commands.env import CommandEnv, MemoryEnv
from defib.web.contract import Route, WebRequest, WebResponse


def _op(rsc: str, task: str, rc: int, call: int, interval: int = 0) -> str:
    key = f"{rsc}_{task}_{interval}"
    ident = f"{rsc}_last_0" if interval == 0 else key
    return (f'<lrm_rsc_op id="{ident}" operation_key="{key}" operation="{task}" '
            f'crm_feature_set="3.16.1" transition-key="{call}:1:0:x" '
            f'transition-magic="0:{rc};{call}:1:0:x" call-id="{call}" rc-code="{rc}" '
            f'op-status="0" interval="{interval}" last-rc-change="1700000000" '
            f'exec-time="10" queue-time="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/>')


def _state(node_id: str, name: str, lrm: str) -> str:
    return (f'<node_state id="{node_id}" uname="{name}" in_ccm="true" crmd="online" '
            f'join="member" expected="member"><lrm id="{node_id}"><lrm_resources>{lrm}'
            "</lrm_resources></lrm></node_state>")


WEB_ON_NODE1 = ('<lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">'
                + _op("web", "start", 0, 3) + "</lrm_resource>")
WEB_PROBED = ('<lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">'
              + _op("web", "monitor", 7, 1) + "</lrm_resource>")

CIB = (
    '<cib admin_epoch="0" epoch="5" num_updates="3" have-quorum="1" dc-uuid="1" '
    'validate-with="pacemaker-3.9" crm_feature_set="3.16.1"><configuration><crm_config>'
    '<cluster_property_set id="cib-bootstrap-options">'
    '<nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set>'
    '</crm_config><nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>'
    '<resources><primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>'
    '</resources><constraints/></configuration><status>'
    + _state("1", "node1", WEB_ON_NODE1) + _state("2", "node2", WEB_PROBED)
    + "</status></cib>")


def memory_env(xml: str = CIB) -> MemoryEnv:
    return MemoryEnv(xml, is_live=False)


def call(routes: list[Route], method: str, path: str, env: CommandEnv,
         body: Any = None, query: dict[str, str] | None = None,
         user: str = "alice") -> WebResponse:
    """Route ``method path`` the way the server does (``{name}`` matches one segment)."""
    parts = path.strip("/").split("/")
    for route in routes:
        pattern = route.pattern.strip("/").split("/")
        if route.method != method or len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts, strict=True):
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = got
            elif want != got:
                break
        else:
            return route.handler(WebRequest(method, path, params, query or {}, body, user,
                                            env))
    raise AssertionError(f"no route for {method} {path}")
