"""The executor: runs OCF and LSB agents for one node and reports Pacemaker-style results."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from defib.errors import AgentError
from defib.executor.env import (
    EXIT_REASON_PREFIX,
    ExecutorConfig,
    lsb_environment,
    ocf_environment,
)
from defib.executor.metadata import AgentMetadata, MetadataCache
from defib.executor.process import ProcessOutcome, run_process
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo

log = logging.getLogger(__name__)

# LSB "status" exit codes (LSB 3.0, plus the two Pacemaker reserves in 150-199).
_LSB_STATUS = {0: OcfRc.OK, 1: OcfRc.NOT_RUNNING, 2: OcfRc.NOT_RUNNING, 3: OcfRc.NOT_RUNNING,
               150: OcfRc.NOT_INSTALLED, 151: OcfRc.INSUFFICIENT_PRIV}
_OCF_VALID = {int(rc) for rc in OcfRc}
METADATA_TIMEOUT_MS = 30000


class AgentExecutor(Protocol):
    """What the controller needs from a node's executor."""

    async def run(self, op: Operation) -> OpResult: ...

    async def metadata(self, rsc: ResourceInfo) -> AgentMetadata: ...


def lsb_to_ocf(action: str, exit_code: int) -> int:
    """Map an LSB init script's exit code to an OCF one, as Pacemaker does."""
    if action in ("status", "monitor"):
        return int(_LSB_STATUS.get(exit_code, OcfRc.UNKNOWN_ERROR))
    # Other actions share codes 0-7 with OCF.
    return exit_code if 0 <= exit_code <= 7 else int(OcfRc.UNKNOWN_ERROR)


def ocf_to_ocf(exit_code: int) -> int:
    return exit_code if exit_code in _OCF_VALID else int(OcfRc.UNKNOWN_ERROR)


def exit_reason_from(stderr: str) -> str:
    """The agent's exit reason: its last ``ocf-exit-reason:`` line on stderr."""
    reason = ""
    for line in stderr.splitlines():
        if line.startswith(EXIT_REASON_PREFIX):
            reason = line[len(EXIT_REASON_PREFIX):].strip()
    return reason[:128]


class LocalExecutor:
    """Runs agents as child processes of this daemon, one operation at a time per resource
    (as Pacemaker's executor does), any number of resources in parallel."""

    def __init__(
        self, config: ExecutorConfig, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._wall = wall_clock
        self._calls = itertools.count(1)
        self._locks: dict[str, asyncio.Lock] = {}
        self._metadata = MetadataCache(self._fetch_metadata)
        config.run_dir.mkdir(parents=True, exist_ok=True)

    # --- agent lookup -------------------------------------------------------------

    def agent_path(self, rsc: ResourceInfo) -> Path | None:
        """The executable for ``rsc``, or None when it is not installed."""
        if rsc.standard == "ocf":
            if not rsc.provider or "/" in rsc.provider or "/" in rsc.agent:
                return None
            for base in self.config.ocf_ra_path:
                candidate = base / rsc.provider / rsc.agent
                if candidate.is_file():
                    return candidate
            return None
        if rsc.standard in ("lsb", "service"):
            candidate = Path(rsc.agent) if rsc.agent.startswith("/") else (
                self.config.lsb_dir / rsc.agent)
            return candidate if candidate.is_file() else None
        return None

    def _argv(self, path: Path, action: str) -> list[str]:
        if self.config.netns:
            return ["ip", "netns", "exec", self.config.netns, str(path), action]
        return [str(path), action]

    # --- running ------------------------------------------------------------------

    async def run(self, op: Operation) -> OpResult:
        """Run one operation. Never raises for agent trouble: that is a failed result."""
        queued = time.monotonic()
        lock = self._locks.setdefault(op.rsc.rsc_id, asyncio.Lock())
        async with lock:
            queue_ms = int((time.monotonic() - queued) * 1000)
            call_id = next(self._calls)
            started = self._wall()
            try:
                # A crashed local node's run-time dir is gone; a rebooted machine's /run
                # is empty but exists: recreate it.
                self.config.run_dir.mkdir(parents=True, exist_ok=True)
                result = await self._execute(op, call_id, started, queue_ms)
            except Exception as exc:  # never let agent trouble crash the daemon
                log.exception("[%s] %s: executor error", self.config.node_name, op.key)
                result = OpResult(op, int(OcfRc.UNKNOWN_ERROR), ExecStatus.ERROR,
                                  f"executor error: {exc}", call_id, started, 0, queue_ms)
        level = logging.INFO if not result.failed else logging.WARNING
        log.log(level, "[%s] %s call=%d exec=%dms", self.config.node_name, result.describe(),
                call_id, result.exec_ms)
        for line in result.stderr.splitlines()[-20:]:
            log.debug("[%s] %s stderr: %s", self.config.node_name, op.key, line)
        return result

    async def _execute(self, op: Operation, call_id: int, started: float,
                       queue_ms: int) -> OpResult:
        def result(rc: int, status: ExecStatus, reason: str = "",
                   outcome: ProcessOutcome | None = None) -> OpResult:
            return OpResult(
                op=op, rc=rc, status=status, exit_reason=reason, call_id=call_id,
                started=started, queue_ms=queue_ms,
                exec_ms=outcome.elapsed_ms if outcome else 0,
                output=outcome.stdout if outcome else "",
                stderr=outcome.stderr if outcome else "",
            )

        if op.rsc.standard == "stonith":
            return await self._execute_stonith(op, result)
        if op.rsc.standard not in ("ocf", "lsb", "service"):
            return result(OcfRc.UNIMPLEMENT_FEATURE, ExecStatus.NOT_SUPPORTED,
                          f"resource class {op.rsc.standard!r} is not supported")
        path = self.agent_path(op.rsc)
        if path is None:
            return result(OcfRc.NOT_INSTALLED, ExecStatus.NOT_INSTALLED,
                          f"agent {op.rsc.spec} is not installed")
        if op.rsc.standard == "ocf":
            action, env = op.action, ocf_environment(op, self.config)
        else:
            action = "status" if op.action == "monitor" else op.action
            if action not in ("start", "stop", "status", "restart", "force-reload",
                              "meta-data"):
                return result(OcfRc.UNIMPLEMENT_FEATURE, ExecStatus.NOT_SUPPORTED,
                              f"LSB scripts have no {op.action!r} action")
            env = lsb_environment(self.config)
        outcome = await run_process(
            self._argv(path, action), env, op.timeout_ms / 1000, cwd=self.config.run_dir,
            kill_grace_s=self.config.kill_grace_s, max_output=self.config.max_output,
        )
        reason = exit_reason_from(outcome.stderr)
        if outcome.spawn_error is not None:
            err = outcome.spawn_error
            if isinstance(err, PermissionError):
                return result(OcfRc.INSUFFICIENT_PRIV, ExecStatus.ERROR,
                              f"cannot execute {path}: {err.strerror}")
            if isinstance(err, FileNotFoundError):
                return result(OcfRc.NOT_INSTALLED, ExecStatus.NOT_INSTALLED,
                              f"cannot execute {path}: {err.strerror}")
            return result(OcfRc.UNKNOWN_ERROR, ExecStatus.ERROR,
                          f"cannot execute {path}: {err}")
        if outcome.timed_out:
            return result(OcfRc.UNKNOWN_ERROR, ExecStatus.TIMEOUT,
                          reason or f"timed out after {op.timeout_ms}ms", outcome)
        if outcome.signal is not None:
            try:
                name = signal.Signals(outcome.signal).name
            except ValueError:
                name = f"signal {outcome.signal}"
            return result(OcfRc.UNKNOWN_ERROR, ExecStatus.ERROR,
                          reason or f"agent was killed by {name}", outcome)
        assert outcome.exit_code is not None
        if op.rsc.standard == "ocf":
            rc = ocf_to_ocf(outcome.exit_code)
        else:
            rc = lsb_to_ocf(action, outcome.exit_code)
        if rc == OcfRc.UNKNOWN_ERROR and outcome.exit_code != rc and not reason:
            reason = f"agent exited with code {outcome.exit_code}"
        return result(rc, ExecStatus.DONE, reason, outcome)

    async def _execute_stonith(
        self, op: Operation,
        result: Callable[[int, ExecStatus, str, ProcessOutcome | None], OpResult],
    ) -> OpResult:
        """A fencing device as a resource: "started" means registered with this node's
        fencer (a state file in the run-time dir) after a successful agent monitor."""
        from defib.fencing.agent import FenceAgentRunner  # fencing builds on the executor

        runner = FenceAgentRunner(env=dict(self.config.extra_env),
                                  kill_grace_s=self.config.kill_grace_s)
        state = self.config.run_dir / f"stonith-{op.rsc.rsc_id}.state"
        if op.action == "stop":
            state.unlink(missing_ok=True)
            return result(OcfRc.OK, ExecStatus.DONE, "", None)
        if op.action == "monitor" and not state.exists():
            return result(OcfRc.NOT_RUNNING, ExecStatus.DONE, "", None)
        if op.action not in ("start", "monitor"):
            return result(OcfRc.UNIMPLEMENT_FEATURE, ExecStatus.NOT_SUPPORTED,
                          f"fencing devices have no {op.action!r} action", None)
        if runner.path_of(op.rsc.agent) is None:
            return result(OcfRc.NOT_INSTALLED, ExecStatus.NOT_INSTALLED,
                          f"fence agent {op.rsc.agent} is not installed", None)
        run = await runner.run(op.rsc.agent, "monitor", op.params, op.timeout_ms / 1000)
        outcome = ProcessOutcome(run.rc, None, run.timed_out, None, run.output, run.error,
                                 run.elapsed_ms)
        if run.timed_out:
            return result(OcfRc.UNKNOWN_ERROR, ExecStatus.TIMEOUT, run.reason(), outcome)
        if not run.ok:
            state.unlink(missing_ok=True)
            return result(OcfRc.UNKNOWN_ERROR, ExecStatus.ERROR, run.reason(), outcome)
        if op.action == "start":
            state.touch()
        return result(OcfRc.OK, ExecStatus.DONE, "", outcome)

    # --- meta-data ----------------------------------------------------------------

    async def metadata(self, rsc: ResourceInfo) -> AgentMetadata:
        """Parsed meta-data of ``rsc``'s agent (cached per agent). Raises AgentError."""
        return await self._metadata.get(rsc.spec)

    async def _fetch_metadata(self, spec: str) -> str:
        parts = spec.split(":")
        if parts[0] in ("lsb", "service"):
            return _lsb_metadata(parts[-1])
        if parts[0] == "stonith":
            from defib.fencing.agent import FenceAgentRunner

            run = await FenceAgentRunner().run(parts[-1], "metadata", {},
                                               METADATA_TIMEOUT_MS / 1000)
            if not run.ok:
                raise AgentError(f"meta-data of {spec} failed: {run.reason()}", spec)
            return run.output
        if parts[0] != "ocf" or len(parts) != 3:
            raise AgentError(f"cannot fetch meta-data for {spec}", spec)
        rsc = ResourceInfo("meta-data", "ocf", parts[2], parts[1])
        path = self.agent_path(rsc)
        if path is None:
            raise AgentError(f"agent {spec} is not installed", spec)
        op = Operation(rsc, "meta-data", timeout_ms=METADATA_TIMEOUT_MS)
        outcome = await run_process(
            [str(path), "meta-data"], ocf_environment(op, self.config),
            METADATA_TIMEOUT_MS / 1000, cwd=self.config.run_dir,
            kill_grace_s=self.config.kill_grace_s, max_output=self.config.max_output,
        )
        if outcome.exit_code != 0 or not outcome.stdout.strip():
            raise AgentError(
                f"meta-data of {spec} failed: exit={outcome.exit_code} "
                f"signal={outcome.signal} timeout={outcome.timed_out} "
                f"{outcome.stderr.strip()[-200:]}", spec)
        return outcome.stdout


def _lsb_metadata(name: str) -> str:
    # Pacemaker synthesises meta-data for init scripts; they take no parameters.
    safe = "".join(c for c in name if c.isalnum() or c in "-_.")
    return (
        f'<?xml version="1.0"?>\n<resource-agent name="{safe}" version="0.0">\n'
        "<version>1.0</version>\n"
        f'<shortdesc lang="en">LSB init script {safe}</shortdesc>\n<parameters/>\n<actions>\n'
        + "".join(f'<action name="{a}" timeout="15s"/>\n'
                  for a in ("start", "stop", "status", "restart", "force-reload", "meta-data"))
        + "</actions>\n</resource-agent>\n"
    )


def ensure_run_dir(path: Path) -> Path:
    """Create a node's run-time directory (mode 0755, as /run/resource-agents)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)
    return path
