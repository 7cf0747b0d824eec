"""Resource agent lookup and metadata, from the agents installed on this machine.

OCF agents are run as ``<agent> meta-data`` with ``OCF_ROOT`` set, fence agents as
``<agent> -o metadata``; answers are cached per catalog instance.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from defib.executor.env import PACKAGE_AGENTS


@dataclass(frozen=True)
class AgentAction:
    name: str
    timeout: str | None
    interval: str | None
    role: str | None


@dataclass(frozen=True)
class AgentInfo:
    spec: str
    parameters: tuple[str, ...]
    required: tuple[str, ...]
    actions: tuple[AgentAction, ...]


class AgentCatalog(Protocol):
    def exists(self, cls: str, provider: str | None, typ: str) -> bool: ...

    def candidates(self, cls: str, provider: str | None) -> list[str]: ...

    def info(self, cls: str, provider: str | None, typ: str) -> AgentInfo | None: ...


@dataclass
class LocalAgents:
    """Agents installed under ``ocf_root``, ``/etc/init.d`` and ``fence_dir``."""

    ocf_root: Path = Path("/usr/lib/ocf")
    fence_dir: Path = Path("/usr/sbin")
    lsb_dir: Path = Path("/etc/init.d")
    # defib's own agents (ocf:defib:*, stonith:fence_defib_local), which the executor and
    # the fencer find there too; None to look only at what the system has installed.
    own_agents: Path | None = PACKAGE_AGENTS
    timeout: float = 10.0
    _cache: dict[str, AgentInfo | None] = field(default_factory=dict)

    def _ocf_bases(self) -> list[Path]:
        bases = [self.ocf_root / "resource.d"]
        if self.own_agents is not None:
            bases.append(self.own_agents / "ocf")
        return bases

    def _fence_dirs(self) -> list[Path]:
        return [self.fence_dir] + ([self.own_agents] if self.own_agents is not None else [])

    def _path(self, cls: str, provider: str | None, typ: str) -> Path | None:
        if "/" in typ or (provider is not None and "/" in provider):
            return None
        if cls == "ocf" and provider:
            found = [b / provider / typ for b in self._ocf_bases()
                     if (b / provider / typ).is_file()]
            return found[0] if found else self.ocf_root / "resource.d" / provider / typ
        if cls == "stonith":
            found = [d / typ for d in self._fence_dirs() if (d / typ).is_file()]
            return found[0] if found else self.fence_dir / typ
        if cls in ("lsb", "service"):
            return self.lsb_dir / typ
        return None

    def exists(self, cls: str, provider: str | None, typ: str) -> bool:
        if cls in ("systemd", "service", "upstart", "nagios"):
            return True  # unit files live in many places; the executor checks at start
        path = self._path(cls, provider, typ)
        return path is not None and path.is_file() and os.access(path, os.X_OK)

    def candidates(self, cls: str, provider: str | None) -> list[str]:
        if cls == "ocf":
            names: set[str] = set()
            for base in self._ocf_bases():
                if provider:
                    if (base / provider).is_dir():
                        names.update(p.name for p in (base / provider).glob("*"))
                elif base.is_dir():
                    names.update(p.name for p in base.glob("*/*"))
            return sorted(names)
        if cls == "stonith":
            return sorted({p.name for d in self._fence_dirs() for p in d.glob("fence_*")})
        if cls == "lsb":
            return sorted(p.name for p in self.lsb_dir.glob("*"))
        return []

    def providers(self) -> list[str]:
        return sorted({p.name for base in self._ocf_bases() if base.is_dir()
                       for p in base.iterdir()})

    def info(self, cls: str, provider: str | None, typ: str) -> AgentInfo | None:
        spec = ":".join(x for x in (cls, provider, typ) if x)
        if spec in self._cache:
            return self._cache[spec]
        result = self._load(cls, provider, typ, spec)
        self._cache[spec] = result
        return result

    def metadata(self, cls: str, provider: str | None, typ: str) -> ET.Element | None:
        """The agent's own metadata document (``meta-data`` / ``-o metadata``); None when
        it is not installed or says nothing readable."""
        path = self._path(cls, provider, typ)
        if path is None or not self.exists(cls, provider, typ) or cls == "lsb":
            return None
        argv = [str(path), "-o", "metadata"] if cls == "stonith" else [str(path), "meta-data"]
        env = dict(os.environ, OCF_ROOT=str(self.ocf_root))
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  env=env, check=False)
            return ET.fromstring(proc.stdout)
        except (OSError, subprocess.TimeoutExpired, ET.ParseError):
            return None

    def _load(self, cls: str, provider: str | None, typ: str, spec: str) -> AgentInfo | None:
        root = self.metadata(cls, provider, typ)
        if root is None:
            return None
        params = root.findall("./parameters/parameter")
        actions = tuple(
            AgentAction(a.get("name", ""), a.get("timeout"), a.get("interval"), a.get("role"))
            for a in root.findall("./actions/action"))
        return AgentInfo(
            spec,
            tuple(p.get("name", "") for p in params),
            tuple(p.get("name", "") for p in params if p.get("required") in ("1", "true")),
            actions,
        )


_ROLE_NAMES = {"Master": "Promoted", "Slave": "Unpromoted"}
_DEFAULT_OPS = ("monitor", "start", "stop", "promote", "demote")


def add_default_ops(prim: ET.Element, info: AgentInfo, new_id: object) -> None:
    """crmsh's interactive defaults: timeouts and missing operations from the agent metadata.

    Monitors come first, then the other actions in metadata order; user operations keep theirs.
    ``new_id`` is ``IdAllocator.new``.
    """
    ops = prim.find("operations")
    if ops is None:
        ops = ET.SubElement(prim, "operations")
    base = ops.get("id") or prim.get("id", "")
    wanted = [a for a in info.actions if a.name == "monitor"] + \
        [a for a in info.actions if a.name in _DEFAULT_OPS and a.name != "monitor"]
    present = {op.get("name") for op in ops.findall("op")}
    for op in ops.findall("op"):
        if op.get("timeout") is None:
            match = next((a for a in wanted if a.name == op.get("name") and a.timeout), None)
            if match is not None:
                op.set("timeout", match.timeout or "")
    assert callable(new_id)
    for action in wanted:
        if action.name in present:
            continue
        op = ET.SubElement(ops, "op", {"name": action.name})
        if action.timeout:
            op.set("timeout", action.timeout)
        interval = action.interval or "0s"
        interval = interval + "s" if interval.isdigit() else interval
        op.set("interval", interval)
        if action.role:
            op.set("role", _ROLE_NAMES.get(action.role, action.role))
        op.set("id", new_id(f"{base}-{action.name}-{interval}"))
