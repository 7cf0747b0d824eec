"""The fencer: real fence agents over their stdin protocol, with fencing topology."""

from defib.fencing.agent import AgentRun, AgentRunner, FenceAgentRunner
from defib.fencing.config import FencingConfig, fencing_from_cib
from defib.fencing.fencer import FenceDevice, Fencer, FenceResult, FencingLevel, LocalFencer

__all__ = [
    "AgentRun", "AgentRunner", "FenceAgentRunner", "FenceDevice", "FenceResult", "Fencer",
    "FencingConfig", "FencingLevel", "LocalFencer", "fencing_from_cib",
]
