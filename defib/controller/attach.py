"""Starts the controller inside a node daemon (the daemon's ``attach`` hook), serves its
control-socket operations (``crm_status``, ``crm_cleanup``, ``crm_attribute``,
``crm_fence``) and makes SIGTERM a clean shutdown."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from defib.cluster.node import ClusterNode
from defib.controller.dc import Controller
from defib.controller.parts import real_parts
from defib.errors import CommandError
from defib.history.recorder import HistoryRecorder


async def attach_controller(node: ClusterNode) -> None:
    controller = Controller(node, real_parts(node.cfg, node.node.name, node.state_dir))
    controller.history = HistoryRecorder.attach(node)
    await controller.start()
    # SIGTERM means a clean shutdown (resources move away first), as for Pacemaker; the
    # daemon still exits through its own shutdown path. SIGINT stays immediate.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                  controller.shutdown.on_sigterm)

    async def crm_status(request: dict[str, Any]) -> dict[str, Any]:
        return controller.describe()

    async def crm_cleanup(request: dict[str, Any]) -> dict[str, Any]:
        rsc = request.get("rsc")
        target = request.get("node")
        controller.request_cleanup(str(rsc) if rsc else None, str(target) if target else None)
        return {"requested": True}

    async def crm_attribute(request: dict[str, Any]) -> dict[str, Any]:
        value = request.get("value")
        controller.request_attribute(str(request.get("node") or node.node.name),
                                     str(request["name"]),
                                     None if value is None else str(value))
        return {"requested": True}

    async def crm_fence(request: dict[str, Any]) -> dict[str, Any]:
        return await controller.request_fencing(str(request["node"]),
                                                str(request.get("action") or "reboot"))

    node.register_op("crm_status", crm_status)
    node.register_op("crm_fence", crm_fence)
    node.register_op("crm_attribute", crm_attribute)

    async def crm_ticket(request: dict[str, Any]) -> dict[str, Any]:
        attrs = request.get("attrs")
        if not isinstance(attrs, dict) or not request.get("ticket"):
            raise CommandError("crm_ticket needs a ticket and its attributes")
        controller.request_ticket(str(request["ticket"]),
                                  {str(k): None if v is None else str(v)
                                   for k, v in attrs.items()})
        return {"requested": True}

    node.register_op("crm_ticket", crm_ticket)
    node.register_op("crm_cleanup", crm_cleanup)
