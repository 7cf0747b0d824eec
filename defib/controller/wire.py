"""What the DC and the nodes' executors say to each other over the cluster's ordered messages.

``crmd-op``   DC -> node: run one operation (``OpSpec`` as a dict).
``crmd-res``  node -> all: one result, with the node's whole ``lrm_resource`` history entry.
``crmd-lrm``  node -> all: the node's whole ``lrm`` history (on every membership change).
``crmd-forget`` DC -> node: forget a resource's history (cleanup); the node answers crmd-lrm.
``crmd-cleanup`` anyone -> DC: clear fail counts of a resource (or all) and re-probe it.
``crmd-attr``  anyone -> DC: set or delete a transient node attribute.
``crmd-fence`` anyone -> DC: fence a node now; the DC answers ``crmd-fenced`` with the outcome.
``crmd-fencing`` DC -> all: the failed fencing attempts per node (any node shows them).
``crmd-shutdown`` a node -> DC: move my resources away, I am shutting down (SIGTERM).
``crmd-exit`` DC -> a node: nothing is active on you any more, leave.
``crmd-fence-exec`` DC -> a peer: run this fencing with these devices (the DC has none for it);
``crmd-fence-exec-done`` the peer -> all: its outcome.
Every message names its node; all members see all messages (the layer broadcasts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from defib.executor.types import OcfRc, Operation, ResourceInfo

OP = "crmd-op"
RESULT = "crmd-res"
LRM = "crmd-lrm"
FORGET = "crmd-forget"
CLEANUP = "crmd-cleanup"
ATTR = "crmd-attr"
FENCE = "crmd-fence"
FENCED = "crmd-fenced"
FENCING = "crmd-fencing"
SHUTDOWN = "crmd-shutdown"
EXIT = "crmd-exit"
FENCE_EXEC = "crmd-fence-exec"
FENCE_EXEC_DONE = "crmd-fence-exec-done"
TICKET = "crmd-ticket"


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


# -- typed messages: what travels as a dict, read and written in one place ------------------
@dataclass(frozen=True)
class OpResult:
    """node -> all: the result of one operation, with the resource's whole history entry
    (``lrm_resource`` XML) as the node recorded it."""

    node: str
    rsc: str
    key: str | None  # the transition key of the operation (None: a recurring change)
    op_key: str
    action: str
    interval_ms: int
    rc: int
    status: int
    reason: str
    failed: bool
    entry: str

    def to_wire(self) -> dict[str, Any]:
        return {"t": RESULT, "node": self.node, "rsc": self.rsc, "key": self.key,
                "op_key": self.op_key, "action": self.action, "interval": self.interval_ms,
                "rc": self.rc, "status": self.status, "reason": self.reason,
                "failed": self.failed, "entry": self.entry}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> OpResult:
        key = raw.get("key")
        return cls(str(raw["node"]), str(raw["rsc"]), None if key is None else str(key),
                   str(raw.get("op_key") or ""), str(raw.get("action") or ""),
                   int(raw.get("interval", 0)), int(raw.get("rc", 1)),
                   int(raw.get("status", 0)), str(raw.get("reason") or ""),
                   bool(raw.get("failed")), str(raw["entry"]))

    @property
    def counts_as_failure(self) -> bool:
        """A failed operation that counts (a probe finding a resource stopped or running
        is information, not a failure)."""
        if not self.failed:
            return False
        probe = self.action == "monitor" and self.interval_ms == 0
        return not (probe and self.rc in (OcfRc.OK, OcfRc.NOT_RUNNING,
                                          OcfRc.RUNNING_PROMOTED))


@dataclass(frozen=True)
class ShutdownRequest:
    """node -> DC: it is shutting down (``time``: when it asked, wall clock)."""

    node: str
    time: float

    def to_wire(self) -> dict[str, Any]:
        return {"t": SHUTDOWN, "node": self.node, "time": self.time}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> ShutdownRequest:
        return cls(str(raw["node"]), float(raw.get("time", 0)))


@dataclass(frozen=True)
class Exit:
    """DC -> ``node``: leave the cluster now (its shutdown is complete)."""

    node: str

    def to_wire(self) -> dict[str, Any]:
        return {"t": EXIT, "node": self.node}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Exit:
        return cls(str(raw["node"]))



@dataclass(frozen=True)
class LrmReport:
    """A node's whole operation history (``<lrm>`` XML), announced on every view change,
    with the incarnation of its executor (a new one: the node's daemon restarted)."""

    node: str
    lrm: str
    incarnation: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"t": LRM, "node": self.node, "lrm": self.lrm, "inc": self.incarnation}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> LrmReport:
        return cls(str(raw["node"]), str(raw["lrm"]), str(raw.get("inc", "")))


@dataclass(frozen=True)
class Forget:
    """DC -> node: forget ``rsc``'s history ("" for every resource)."""

    node: str
    rsc: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"t": FORGET, "node": self.node, "rsc": self.rsc}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Forget:
        return cls(str(raw["node"]), str(raw.get("rsc") or ""))


@dataclass(frozen=True)
class CleanupRequest:
    rsc: str | None = None
    node: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"t": CLEANUP, "rsc": self.rsc, "node": self.node}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> CleanupRequest:
        rsc, node = raw.get("rsc"), raw.get("node")
        return cls(str(rsc) if rsc else None, str(node) if node else None)


@dataclass(frozen=True)
class AttrRequest:
    """Set (``value``) or delete (None) a transient attribute of ``node``."""

    node: str
    name: str
    value: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"t": ATTR, "node": self.node, "name": self.name, "value": self.value}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> AttrRequest:
        value = raw.get("value")
        return cls(str(raw["node"]), str(raw["name"]), None if value is None else str(value))


@dataclass(frozen=True)
class TicketRequest:
    """Set (a value) or remove (None) attributes of ``ticket``'s state (granted, standby,
    last-granted), as crm_ticket asks; the DC writes them."""

    ticket: str
    attrs: dict[str, str | None]

    def to_wire(self) -> dict[str, Any]:
        return {"t": TICKET, "ticket": self.ticket, "attrs": dict(self.attrs)}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> TicketRequest:
        attrs = raw.get("attrs")
        if not isinstance(attrs, dict):
            raise ValueError("ticket attributes are not an object")
        return cls(str(raw["ticket"]),
                   {str(k): None if v is None else str(v) for k, v in attrs.items()})


@dataclass(frozen=True)
class FenceRequest:
    """Fence ``node`` now (``action`` reboot, off, on, or confirm: it is known to be down);
    ``request`` names the answer."""

    node: str
    action: str
    request: str

    def to_wire(self) -> dict[str, Any]:
        return {"t": FENCE, "node": self.node, "action": self.action, "r": self.request}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FenceRequest:
        return cls(str(raw["node"]), str(raw.get("action") or "reboot"), str(raw.get("r")))


@dataclass(frozen=True)
class FenceAnswer:
    request: str
    ok: bool
    reason: str
    dc: str

    def to_wire(self) -> dict[str, Any]:
        return {"t": FENCED, "r": self.request, "ok": self.ok, "reason": self.reason,
                "dc": self.dc}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FenceAnswer:
        return cls(str(raw.get("r")), bool(raw.get("ok")), str(raw.get("reason") or ""),
                   str(raw.get("dc") or ""))


@dataclass(frozen=True)
class FencingState:
    """DC -> all: the failed fencing attempts per target (``FencingPolicy.describe``)."""

    dc: str
    state: dict[str, dict[str, Any]]

    def to_wire(self) -> dict[str, Any]:
        return {"t": FENCING, "dc": self.dc, "state": self.state}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FencingState:
        return cls(str(raw.get("dc") or ""),
                   {str(k): dict(v) for k, v in dict(raw.get("state") or {}).items()})


@dataclass(frozen=True)
class FenceExec:
    """DC -> ``executor``: fence ``target`` with ``plan`` (``fenceexec.FencePlan``)."""

    request: str
    executor: str
    target: str
    action: str
    plan: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"t": FENCE_EXEC, "r": self.request, "node": self.executor,
                "target": self.target, "action": self.action, "plan": self.plan}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FenceExec:
        return cls(str(raw["r"]), str(raw["node"]), str(raw["target"]), str(raw["action"]),
                   dict(raw["plan"]))


@dataclass(frozen=True)
class FenceExecDone:
    """``executor`` -> all: the outcome of a ``FenceExec``."""

    request: str
    executor: str
    target: str
    action: str
    ok: bool
    reason: str
    devices: list[str]
    elapsed_ms: int

    def to_wire(self) -> dict[str, Any]:
        return {"t": FENCE_EXEC_DONE, "r": self.request, "node": self.executor,
                "target": self.target, "action": self.action, "ok": self.ok,
                "reason": self.reason, "devices": self.devices, "ms": self.elapsed_ms}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FenceExecDone:
        return cls(str(raw["r"]), str(raw["node"]), str(raw["target"]), str(raw["action"]),
                   bool(raw["ok"]), str(raw.get("reason") or ""),
                   [str(d) for d in raw.get("devices") or []], int(raw.get("ms", 0)))


Message = (OpSpec | OpResult | ShutdownRequest | Exit | LrmReport | Forget | CleanupRequest
           | AttrRequest | FenceRequest | FenceAnswer | FencingState | FenceExec | FenceExecDone
           | TicketRequest)
_TYPES: dict[str, Any] = {OP: OpSpec, RESULT: OpResult, SHUTDOWN: ShutdownRequest, EXIT: Exit,
                          LRM: LrmReport, FORGET: Forget, CLEANUP: CleanupRequest,
                          ATTR: AttrRequest, FENCE: FenceRequest, FENCED: FenceAnswer,
                          FENCING: FencingState, FENCE_EXEC: FenceExec,
                          FENCE_EXEC_DONE: FenceExecDone, TICKET: TicketRequest}


def decode(raw: dict[str, Any]) -> Message | None:
    """The typed message in ``raw``; None for kinds without a class here (or malformed)."""
    kind = _TYPES.get(str(raw.get("t")))
    if kind is None:
        return None
    try:
        message: Message = kind.from_wire(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return message
