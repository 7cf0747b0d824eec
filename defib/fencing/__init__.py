"""The fencer: real fence agents over their stdin protocol, with fencing topology."""

from defib.fencing.agent import AgentRun, FenceAgentRunner
from defib.fencing.fencer import FenceDevice, Fencer, FenceResult, FencingLevel, LocalFencer

__all__ = [
    "AgentRun", "FenceAgentRunner", "FenceDevice", "FenceResult", "Fencer", "FencingLevel",
    "LocalFencer",
]
