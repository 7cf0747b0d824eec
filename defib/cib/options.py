"""The cluster options (``crm_config`` properties): one table, one reader, one typed result.

The table lists every option Pacemaker 2.1.5 documents for its controller, scheduler and
fencer, with its type and default, and says for each whether defib honours it or why not.
``ClusterOptions.read`` turns the properties of a CIB into typed values (durations in
seconds through the one duration parser, ``defib.cib.timespec``) and reports, naming the
option, every value it cannot read and every value defib does not honour: ``property set``
refuses those, ``configure verify`` warns about them and the DC logs them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from defib.cib.timespec import parse_ms


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # boolean, integer, time, enum, score, percentage, string
    default: str
    values: tuple[str, ...] = ()
    read_only: bool = False
    deprecated: bool = False
    # Why defib does not honour it (None: it does). Only a value other than the default
    # is refused: the default is what defib does anyway.
    unsupported: str | None = None


def _o(name: str, kind: str, default: str, *values: str, read_only: bool = False,
       deprecated: bool = False, unsupported: str | None = None) -> Option:
    return Option(name, kind, default, values, read_only, deprecated, unsupported)


NO_THROTTLING = "actions are not throttled by load (node-action-limit bounds them)"
OPTIONS: dict[str, Option] = {o.name: o for o in (
    _o("batch-limit", "integer", "0"),
    _o("cluster-delay", "time", "60s"),
    _o("cluster-infrastructure", "string", "", read_only=True),
    _o("cluster-ipc-limit", "integer", "500",
       unsupported="defib has no IPC clients whose backlog could be limited"),
    _o("cluster-name", "string", ""),
    _o("cluster-recheck-interval", "time", "15min"),
    _o("concurrent-fencing", "boolean", "false"),
    _o("dc-deadtime", "time", "20s"),
    _o("dc-version", "string", "", read_only=True),
    _o("election-timeout", "time", "2min",
       unsupported="the DC is chosen by the membership layer: there is no election to time"
                   " out"),
    _o("enable-acl", "boolean", "false"),  # enforced on the control socket (defib.acl)
    _o("enable-startup-probes", "boolean", "true"),
    _o("fence-reaction", "enum", "stop", "stop", "panic",
       unsupported="a node learning it was fenced always stops"),
    _o("have-watchdog", "boolean", "false", read_only=True),
    _o("join-finalization-timeout", "time", "30min",
       unsupported="nodes join through the membership layer: there is no join phase to time"
                   " out"),
    _o("join-integration-timeout", "time", "3min",
       unsupported="nodes join through the membership layer: there is no join phase to time"
                   " out"),
    _o("load-threshold", "percentage", "80%", unsupported=NO_THROTTLING),
    _o("maintenance-mode", "boolean", "false"),
    _o("migration-limit", "integer", "-1",
       unsupported="the scheduler does not limit concurrent live migrations"),
    _o("no-quorum-policy", "enum", "stop", "stop", "freeze", "ignore", "demote", "suicide"),
    _o("node-action-limit", "integer", "0"),
    _o("node-health-base", "integer", "0"),
    _o("node-health-green", "score", "0"),
    _o("node-health-red", "score", "-INFINITY"),
    _o("node-health-strategy", "enum", "none", "none", "migrate-on-red", "only-green",
       "progressive", "custom"),
    _o("node-health-yellow", "score", "0"),
    _o("pe-error-series-max", "integer", "-1",
       unsupported="every scheduler input is kept in the pe-input series"
                   " (pe-input-series-max)"),
    _o("pe-input-series-max", "integer", "4000"),
    _o("history-max-events", "integer", "100000"),  # defib: the event history (docs/history.md)
    _o("history-max-age", "time", "720h"),
    _o("pe-warn-series-max", "integer", "5000",
       unsupported="every scheduler input is kept in the pe-input series"
                   " (pe-input-series-max)"),
    _o("placement-strategy", "enum", "default", "default", "utilization", "minimal",
       "balanced"),
    _o("priority-fencing-delay", "time", "0", unsupported="fencing is not delayed by priority"),
    _o("remove-after-stop", "boolean", "false", deprecated=True,
       unsupported="stopped resources keep their history"),
    _o("shutdown-escalation", "time", "20min",
       unsupported="a node shutting down waits until its resources are stopped"),
    _o("shutdown-lock", "boolean", "false"),
    _o("shutdown-lock-limit", "time", "0", unsupported="shutdown locks do not expire"),
    _o("start-failure-is-fatal", "boolean", "true"),
    _o("startup-fencing", "boolean", "true"),
    _o("stonith-action", "enum", "reboot", "reboot", "off", "poweroff"),
    _o("stonith-enabled", "boolean", "true"),
    _o("stonith-max-attempts", "integer", "10"),
    _o("stonith-timeout", "time", "60s"),
    _o("stonith-watchdog-timeout", "time", "0",
       unsupported="there is no watchdog (SBD) fencing"),
    _o("stop-all-resources", "boolean", "false"),
    _o("stop-orphan-actions", "boolean", "true"),
    _o("stop-orphan-resources", "boolean", "true"),
    _o("symmetric-cluster", "boolean", "true"),
    _o("transition-delay", "time", "0s"),
    _o("default-resource-stickiness", "score", "0", deprecated=True),
    _o("is-managed-default", "boolean", "true", deprecated=True,
       unsupported="use the is-managed resource default (rsc_defaults) instead"),
)}

_TRUE = {"true", "yes", "on", "y", "1"}
_FALSE = {"false", "no", "off", "n", "0"}
_SCORE = re.compile(r"^([+-]?INFINITY|[+-]?\d+)$", re.I)
EXPECTED = {
    "boolean": "a boolean (true/false)", "integer": "an integer",
    "time": "a time such as 30s, 5min, 2h or PT1M", "score": "a score (integer or [-]INFINITY)",
    "percentage": "a percentage such as 80%",
}

Value = bool | int | float | str


def duration_s(text: str | None) -> float | None:
    """A cluster option's duration in seconds: ISO 8601 (PT5M) or Pacemaker's forms (90s,
    5min, 1h, 500ms; a bare number is seconds, as Pacemaker's crm_get_msec reads it)."""
    ms = parse_ms(text, None)
    return None if ms is None else ms / 1000


def typed(option: Option, text: str) -> Value | None:
    """``text`` read as ``option``'s kind; None when it is not one."""
    value = text.strip()
    kind = option.kind
    if kind == "boolean":
        low = value.lower()
        return True if low in _TRUE else False if low in _FALSE else None
    if kind == "integer":
        return int(value) if re.fullmatch(r"[+-]?\d+", value) else None
    if kind == "time":
        return duration_s(value)
    if kind == "enum":
        return value if value in option.values else None
    if kind == "score":
        return value if _SCORE.match(value) else None
    if kind == "percentage":
        return value if re.fullmatch(r"\d+%?", value) else None
    return value


def invalid_value(name: str, text: str) -> str | None:
    """Why ``text`` is no value of option ``name`` (with a suggestion); None if it reads.
    Unlike ``problem``, a readable value defib does not honour passes: a Pacemaker CIB that
    sets one is still a valid configuration (``configure verify`` warns about it)."""
    option = OPTIONS.get(name)
    if option is None or typed(option, text) is not None:
        return None
    expected = EXPECTED.get(option.kind) or "one of " + ", ".join(option.values)
    hint = ""
    close = difflib.get_close_matches(text, list(option.values), n=1)
    if close:
        hint = f" (did you mean {close[0]!r}?)"
    return (f"invalid value {text!r} for {name}: expected {expected}"
            f" (default {option.default or 'none'}){hint}")


def problem(name: str, text: str) -> str | None:
    """What is wrong with ``name=text`` (unknown, unreadable or not honoured); None if fine."""
    option = OPTIONS.get(name)
    if option is None:
        return None  # not a cluster option Pacemaker documents: left to the caller
    value = typed(option, text)
    if value is None:
        return invalid_value(name, text)
    if option.unsupported and value != typed(option, option.default):
        return (f"{name}={text} is not supported by defib ({option.unsupported}); only its"
                f" default ({option.default}) is accepted")
    return None


@dataclass(frozen=True)
class ClusterOptions:
    """Every cluster option with its typed value (the default where unset or unreadable)."""

    values: Mapping[str, Value]
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def read(cls, properties: Mapping[str, str]) -> ClusterOptions:
        values: dict[str, Value] = {}
        problems = []
        for name, option in OPTIONS.items():
            default = typed(option, option.default)
            text = properties.get(name)
            value = typed(option, text) if text is not None else None
            if text is not None:
                why = problem(name, text)
                if why is not None:
                    problems.append(why + ("; ignored" if value is not None
                                           else "; the default is used"))
                if option.unsupported:
                    value = None
            values[name] = value if value is not None else default if default is not None else ""
        return cls(values, tuple(problems))

    def _float(self, name: str) -> float:
        value = self.values[name]
        return float(value) if isinstance(value, int | float) else 0.0

    def _int(self, name: str) -> int:
        value = self.values[name]
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def _bool(self, name: str) -> bool:
        return bool(self.values[name])

    # -- what the live controller reads ----------------------------------------------------
    @property
    def batch_limit(self) -> int:
        return self._int("batch-limit")

    @property
    def cluster_delay_s(self) -> float:
        return self._float("cluster-delay")

    @property
    def cluster_recheck_interval_s(self) -> float:
        """0 disables the periodic recheck (failure expiry still wakes the DC)."""
        return self._float("cluster-recheck-interval")

    @property
    def dc_deadtime_s(self) -> float:
        return self._float("dc-deadtime")

    @property
    def enable_startup_probes(self) -> bool:
        return self._bool("enable-startup-probes")

    @property
    def node_action_limit(self) -> int:
        """Resource actions in flight per node; 0: the default (twice the cores)."""
        return max(0, self._int("node-action-limit"))

    @property
    def pe_input_series_max(self) -> int:
        """How many scheduler inputs to keep: -1 all of them, 0 none."""
        return self._int("pe-input-series-max")

    @property
    def start_failure_is_fatal(self) -> bool:
        return self._bool("start-failure-is-fatal")

    @property
    def stonith_max_attempts(self) -> int:
        value = self._int("stonith-max-attempts")
        return value if value > 0 else 10

    @property
    def stonith_timeout_s(self) -> float:
        return self._float("stonith-timeout") or 60.0

    @property
    def transition_delay_s(self) -> float:
        return self._float("transition-delay")
