"""The cluster options (``crm_config`` properties) Pacemaker 2.1 knows: type, default and
allowed values, for validating ``defib property NAME VALUE``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from defib.errors import CommandError


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # boolean, integer, time, enum, score, percentage, string
    default: str
    values: tuple[str, ...] = ()
    read_only: bool = False
    deprecated: bool = False


def _o(name: str, kind: str, default: str, *values: str, read_only: bool = False,
       deprecated: bool = False) -> Option:
    return Option(name, kind, default, values, read_only, deprecated)


OPTIONS: dict[str, Option] = {o.name: o for o in (
    _o("batch-limit", "integer", "0"),
    _o("cluster-delay", "time", "60s"),
    _o("cluster-infrastructure", "string", "", read_only=True),
    _o("cluster-ipc-limit", "integer", "500"),
    _o("cluster-name", "string", ""),
    _o("cluster-recheck-interval", "time", "15min"),
    _o("concurrent-fencing", "boolean", "false"),
    _o("dc-deadtime", "time", "20s"),
    _o("dc-version", "string", "", read_only=True),
    _o("election-timeout", "time", "2min"),
    _o("enable-acl", "boolean", "false"),
    _o("enable-startup-probes", "boolean", "true"),
    _o("fence-reaction", "enum", "stop", "stop", "panic"),
    _o("have-watchdog", "boolean", "false", read_only=True),
    _o("join-finalization-timeout", "time", "30min"),
    _o("join-integration-timeout", "time", "3min"),
    _o("load-threshold", "percentage", "80%"),
    _o("maintenance-mode", "boolean", "false"),
    _o("migration-limit", "integer", "-1"),
    _o("no-quorum-policy", "enum", "stop", "stop", "freeze", "ignore", "demote", "suicide"),
    _o("node-action-limit", "integer", "0"),
    _o("node-health-base", "integer", "0"),
    _o("node-health-green", "score", "0"),
    _o("node-health-red", "score", "-INFINITY"),
    _o("node-health-strategy", "enum", "none", "none", "migrate-on-red", "only-green",
       "progressive", "custom"),
    _o("node-health-yellow", "score", "0"),
    _o("pe-error-series-max", "integer", "-1"),
    _o("pe-input-series-max", "integer", "4000"),
    _o("pe-warn-series-max", "integer", "5000"),
    _o("placement-strategy", "enum", "default", "default", "utilization", "minimal",
       "balanced"),
    _o("priority-fencing-delay", "time", "0"),
    _o("remove-after-stop", "boolean", "false", deprecated=True),
    _o("shutdown-escalation", "time", "20min"),
    _o("shutdown-lock", "boolean", "false"),
    _o("shutdown-lock-limit", "time", "0"),
    _o("start-failure-is-fatal", "boolean", "true"),
    _o("startup-fencing", "boolean", "true"),
    _o("stonith-action", "enum", "reboot", "reboot", "off", "poweroff"),
    _o("stonith-enabled", "boolean", "true"),
    _o("stonith-max-attempts", "integer", "10"),
    _o("stonith-timeout", "time", "60s"),
    _o("stonith-watchdog-timeout", "time", "0"),
    _o("stop-all-resources", "boolean", "false"),
    _o("stop-orphan-actions", "boolean", "true"),
    _o("stop-orphan-resources", "boolean", "true"),
    _o("symmetric-cluster", "boolean", "true"),
    _o("transition-delay", "time", "0s"),
    _o("default-resource-stickiness", "score", "0", deprecated=True),
    _o("is-managed-default", "boolean", "true", deprecated=True),
)}

_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n", "1", "0"}
_TIME = re.compile(r"^\s*\d+(\.\d+)?\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*$", re.I)
_ISO = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
_SCORE = re.compile(r"^([+-]?INFINITY|[+-]?\d+)$", re.I)


def validate(name: str, value: str) -> str:
    """The value to store for option ``name``; ``CommandError`` naming what is wrong."""
    option = OPTIONS[name]
    if option.read_only:
        raise CommandError(f"{name} is maintained by the cluster and cannot be set", name)
    kind = option.kind
    ok = True
    if kind == "boolean":
        ok = value.lower() in _BOOLEANS
        expected = "a boolean (true/false)"
    elif kind == "integer":
        ok = re.fullmatch(r"[+-]?\d+", value) is not None
        expected = "an integer"
    elif kind == "time":
        ok = bool(_TIME.match(value) or _ISO.match(value.upper()))
        expected = "a time such as 30s, 5min, 2h or PT1M"
    elif kind == "enum":
        ok = value in option.values
        expected = "one of " + ", ".join(option.values)
    elif kind == "score":
        ok = _SCORE.match(value) is not None
        expected = "a score (integer or [-]INFINITY)"
    elif kind == "percentage":
        ok = re.fullmatch(r"\d+%?", value) is not None
        expected = "a percentage such as 80%"
    if not ok:
        hint = ""
        if option.values:
            from defib.commands.cibtree import did_you_mean

            hint = did_you_mean(value, list(option.values))
        raise CommandError(f"invalid value {value!r} for {name}: expected {expected}"
                           f" (default {option.default or 'none'}){hint}", name)
    return value
