"""Running fence agents (fence-agents' /usr/sbin/fence_*, fence_defib_local) over stdin."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from defib.executor.process import run_process

OWN_AGENTS = Path(__file__).resolve().parents[1] / "agents"
FENCE_AGENT_DIRS = (Path("/usr/sbin"), OWN_AGENTS)
# Device parameters that configure the fencer itself and are never passed to the agent.
_FENCER_PREFIXES = ("pcmk_", "CRM_meta_")
_FENCER_NAMES = frozenset({"priority", "provides", "stonith-timeout"})


@dataclass(frozen=True)
class AgentRun:
    """One execution of a fence agent."""

    agent: str
    action: str
    rc: int | None  # None: not run, killed or timed out
    timed_out: bool
    output: str
    error: str
    elapsed_ms: int

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def reason(self) -> str:
        if self.timed_out:
            return f"{self.agent} {self.action} timed out"
        if self.rc is None:
            return f"{self.agent} {self.action} could not run: {self.error.strip()[-300:]}"
        lines = [ln.strip() for ln in (self.error + "\n" + self.output).splitlines() if ln.strip()]
        failed = [ln for ln in lines if "Failed" in ln or "ERROR" in ln]
        detail = (failed or lines or [""])[-1][-300:]
        return f"{self.agent} {self.action} exited {self.rc}" + (f": {detail}" if detail else "")


class AgentRunner(Protocol):
    """Runs one fence agent action (the real one below; fakes in unit tests)."""

    async def run(self, agent: str, action: str, params: Mapping[str, str], timeout_s: float,
                  target: str | None = None, plug: str | None = None) -> AgentRun: ...


@dataclass(frozen=True)
class FenceAgentRunner:
    """Finds and runs fence agents; ``env`` adds to the daemon's environment."""

    search_dirs: tuple[Path, ...] = FENCE_AGENT_DIRS
    env: Mapping[str, str] = field(default_factory=dict)
    kill_grace_s: float = 1.0

    @staticmethod
    def _argv(path: Path) -> list[str]:
        # defib's own agents need only the standard library: run them with this
        # interpreter, without site-packages, rather than whatever "python3" PATH finds.
        if path.parent == OWN_AGENTS:
            return [sys.executable, "-S", str(path)]
        return [str(path)]

    def path_of(self, agent: str) -> Path | None:
        if "/" in agent:
            path = Path(agent)
            return path if path.is_file() else None
        for base in self.search_dirs:
            candidate = base / agent
            if candidate.is_file():
                return candidate
        return None

    async def run(
        self,
        agent: str,
        action: str,
        params: Mapping[str, str],
        timeout_s: float,
        target: str | None = None,
        plug: str | None = None,
    ) -> AgentRun:
        """Run ``agent`` with ``action``: parameters go as ``name=value`` lines on stdin."""
        path = self.path_of(agent)
        if path is None:
            return AgentRun(agent, action, None, False, "", f"fence agent {agent} not found", 0)
        lines = {"action": action}
        for name, value in params.items():
            if name.startswith(_FENCER_PREFIXES) or name in _FENCER_NAMES:
                continue
            lines[name] = value
        if target is not None:
            lines["nodename"] = target
        if plug is not None:
            lines["plug"] = plug
        stdin = "".join(f"{k}={v}\n" for k, v in lines.items()).encode()
        env = dict(os.environ)
        env.update(self.env)
        outcome = await run_process(
            self._argv(path), env, timeout_s, stdin_data=stdin, kill_grace_s=self.kill_grace_s,
        )
        if outcome.spawn_error is not None:
            return AgentRun(agent, action, None, False, "", str(outcome.spawn_error), 0)
        rc = outcome.exit_code if outcome.signal is None else None
        error = outcome.stderr
        if outcome.signal is not None:
            error += f"\nkilled by signal {outcome.signal}"
        return AgentRun(agent, action, rc, outcome.timed_out, outcome.stdout, error,
                        outcome.elapsed_ms)
