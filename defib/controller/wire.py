"""What the DC and the nodes' executors say to each other over the cluster's ordered messages.

``crmd-op``   DC -> node: run one operation (``OpSpec`` as a dict).
``crmd-res``  node -> all: one result, with the node's whole ``lrm_resource`` history entry.
``crmd-lrm``  node -> all: the node's whole ``lrm`` history (on every membership change).
``crmd-forget`` DC -> node: forget a resource's history (cleanup); the node answers crmd-lrm.
``crmd-cleanup`` anyone -> DC: clear fail counts of a resource (or all) and re-probe it.
``crmd-attr``  anyone -> DC: set or delete a transient node attribute.
``crmd-fence`` anyone -> DC: fence a node now; the DC answers ``crmd-fenced`` with the outcome.
``crmd-fencing`` DC -> all: the failed fencing attempts per node (any node shows them).
Every message names its node; all members see all messages (the layer broadcasts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from defib.executor.types import Operation, ResourceInfo

OP = "crmd-op"
RESULT = "crmd-res"
LRM = "crmd-lrm"
FORGET = "crmd-forget"
CLEANUP = "crmd-cleanup"
ATTR = "crmd-attr"
FENCE = "crmd-fence"
FENCED = "crmd-fenced"
FENCING = "crmd-fencing"


@dataclass(frozen=True)
class OpSpec:
    node: str
    rsc_id: str
    standard: str
    agent: str
    provider: str | None
    action: str
    interval_ms: int = 0
    timeout_ms: int = 20000
    params: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    transition_key: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"t": OP, "node": self.node, "rsc": self.rsc_id, "class": self.standard,
                "agent": self.agent, "provider": self.provider, "action": self.action,
                "interval": self.interval_ms, "timeout": self.timeout_ms,
                "params": self.params, "meta": self.meta, "key": self.transition_key}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> OpSpec:
        return cls(str(raw["node"]), str(raw["rsc"]), str(raw["class"]), str(raw["agent"]),
                   raw.get("provider"), str(raw["action"]), int(raw.get("interval", 0)),
                   int(raw.get("timeout", 20000)), dict(raw.get("params") or {}),
                   dict(raw.get("meta") or {}), raw.get("key"))

    def operation(self) -> Operation:
        rsc = ResourceInfo(self.rsc_id, self.standard, self.agent, self.provider)
        return Operation(rsc, self.action, self.interval_ms, self.timeout_ms, self.params,
                         self.meta, self.transition_key)
