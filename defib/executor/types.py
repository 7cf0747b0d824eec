"""Operations, results and the codes Pacemaker uses for them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class OcfRc(enum.IntEnum):
    """OCF exit codes (the ``rc-code`` Pacemaker records)."""

    OK = 0
    UNKNOWN_ERROR = 1
    INVALID_PARAM = 2
    UNIMPLEMENT_FEATURE = 3
    INSUFFICIENT_PRIV = 4
    NOT_INSTALLED = 5
    NOT_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


class ExecStatus(enum.IntEnum):
    """How the execution itself went (Pacemaker's ``op-status``, ``enum pcmk_exec_status``)."""

    PENDING = -1
    DONE = 0
    CANCELLED = 1
    TIMEOUT = 2
    NOT_SUPPORTED = 3
    ERROR = 4
    NO_FENCE_DEVICE = 5
    NOT_INSTALLED = 6
    NOT_CONNECTED = 7
    INVALID = 8
    NO_SECRETS = 9


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class ResourceInfo:
    """What an ``lrm_resource`` element names: id, class, provider and agent type."""

    rsc_id: str
    standard: str  # "ocf", "lsb" (or "service"/"systemd" later)
    agent: str  # the type, e.g. "Dummy"
    provider: str | None = None

    @property
    def spec(self) -> str:
        if self.provider:
            return f"{self.standard}:{self.provider}:{self.agent}"
        return f"{self.standard}:{self.agent}"


@dataclass(frozen=True)
class Operation:
    """One request to an agent.

    ``params`` are the instance attributes (become ``OCF_RESKEY_<name>``); ``meta`` are
    meta-attributes without their ``CRM_meta_`` prefix (``clone``, ``notify_type``,
    ``on_node`` ...). ``timeout``/``interval``/``name`` are always derived from the fields.
    ``transition_key`` is the controller's key ("action:transition:target-rc:uuid"); None
    for operations nobody scheduled (the recorder then makes Pacemaker's fake key).
    """

    rsc: ResourceInfo
    action: str
    interval_ms: int = 0
    timeout_ms: int = 20000
    params: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    transition_key: str | None = None
    expected_rc: int | None = None  # without a transition key: the rc that means success

    @classmethod
    def probe(cls, rsc: ResourceInfo, timeout_ms: int = 20000, **kw: object) -> Operation:
        """A one-off monitor of a resource not known to run: "not running" is success."""
        return cls(rsc, "monitor", 0, timeout_ms, expected_rc=int(OcfRc.NOT_RUNNING),
                   **kw)  # type: ignore[arg-type]

    @classmethod
    def from_attributes(
        cls,
        rsc: ResourceInfo,
        action: str,
        attributes: Mapping[str, str],
        transition_key: str | None = None,
    ) -> Operation:
        """An operation from a transition graph action's ``<attributes>``: parameters and
        ``CRM_meta_*`` values mixed, as Pacemaker's graph carries them."""
        meta = {k[len("CRM_meta_"):]: v for k, v in attributes.items()
                if k.startswith("CRM_meta_")}
        params = {k: v for k, v in attributes.items() if not k.startswith("CRM_meta_")}
        interval = _int(meta.pop("interval", None), 0)
        timeout = _int(meta.pop("timeout", None), 20000)
        meta.pop("name", None)
        return cls(rsc, action, interval, timeout, params, meta, transition_key)

    @property
    def key(self) -> str:
        """Pacemaker's operation key, e.g. ``rsc_monitor_10000``."""
        return f"{self.rsc.rsc_id}_{self.action}_{self.interval_ms}"

    @property
    def is_probe(self) -> bool:
        return self.action == "monitor" and self.interval_ms == 0

    def all_params(self) -> dict[str, str]:
        """Parameters as the agent and the digests see them (``CRM_meta_*`` included)."""
        out = dict(self.params)
        for name, value in self.meta.items():
            out[f"CRM_meta_{name}"] = value
        out["CRM_meta_timeout"] = str(self.timeout_ms)
        out["CRM_meta_interval"] = str(self.interval_ms)
        out["CRM_meta_name"] = self.action
        return out

    @property
    def target_rc(self) -> int:
        """The rc that means success: from the transition key, else ``expected_rc``, else 0."""
        if self.transition_key:
            parts = self.transition_key.split(":")
            if len(parts) >= 3 and parts[2].lstrip("-").isdigit():
                return int(parts[2])
        return self.expected_rc if self.expected_rc is not None else 0


@dataclass(frozen=True)
class OpResult:
    """The outcome of one execution."""

    op: Operation
    rc: int
    status: ExecStatus
    exit_reason: str = ""
    call_id: int = 0
    started: float = 0.0  # wall clock, seconds since the epoch
    exec_ms: int = 0
    queue_ms: int = 0
    output: str = ""  # stdout of the agent (meta-data, status text), bounded
    stderr: str = ""
    last_rc_change: float | None = None  # recurring ops: when the rc last changed

    @property
    def ok(self) -> bool:
        return self.status == ExecStatus.DONE and self.rc == self.op.target_rc

    @property
    def failed(self) -> bool:
        """As Pacemaker's ``did_rsc_op_fail``: an execution problem or an unexpected rc."""
        if self.status in (ExecStatus.CANCELLED, ExecStatus.PENDING):
            return False
        if self.status in (ExecStatus.DONE, ExecStatus.NOT_INSTALLED):
            return self.rc != self.op.target_rc
        return True

    def describe(self) -> str:
        what = f"{self.op.key} rc={self.rc} status={self.status.name.lower()}"
        return what + (f" ({self.exit_reason})" if self.exit_reason else "")
