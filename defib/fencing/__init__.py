"""The fencer: real fence agents over their stdin protocol, with fencing topology.

Names are imported lazily: ``fence_defib_local`` (defib.fencing.local_agent) runs on every
fence request and must start fast, without loading asyncio and the executor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from defib.fencing.agent import AgentRun, AgentRunner, FenceAgentRunner
    from defib.fencing.config import FencingConfig, fencing_from_cib
    from defib.fencing.fencer import (
        FenceDevice,
        Fencer,
        FenceResult,
        FencingLevel,
        LocalFencer,
    )

_WHERE = {
    "AgentRun": "agent", "AgentRunner": "agent", "FenceAgentRunner": "agent",
    "FencingConfig": "config", "fencing_from_cib": "config",
    "FenceDevice": "fencer", "FenceResult": "fencer", "Fencer": "fencer",
    "FencingLevel": "fencer", "LocalFencer": "fencer",
}

__all__ = [
    "AgentRun", "AgentRunner", "FenceAgentRunner", "FenceDevice", "FenceResult", "Fencer",
    "FencingConfig", "FencingLevel", "LocalFencer", "fencing_from_cib",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'defib.fencing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"defib.fencing.{module}"), name)
