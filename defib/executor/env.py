"""The environment an agent runs in, as Pacemaker's executor builds it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from defib.executor.types import Operation

OCF_ROOT = Path("/usr/lib/ocf")
OCF_RA_VERSION = ("1", "1")  # what Pacemaker 2.1 announces
EXIT_REASON_PREFIX = "ocf-exit-reason:"
# defib's own agents (ocf:defib:Recorder ...) ship inside the package.
PACKAGE_AGENTS = Path(__file__).resolve().parents[1] / "agents"


@dataclass(frozen=True)
class ExecutorConfig:
    """Where one node's executor finds agents and keeps run-time state.

    ``run_dir`` becomes ``HA_RSCTMP``: each local node passes its own, so agents of
    different local nodes never share state files (and a "crashed" node loses them when
    its launcher removes the directory, as a reboot empties /run).
    """

    node_name: str
    run_dir: Path
    ocf_root: Path = OCF_ROOT
    # OCF_RA_PATH: resource.d directories searched in order for <provider>/<type>.
    ocf_ra_path: tuple[Path, ...] = (OCF_ROOT / "resource.d", PACKAGE_AGENTS / "ocf")
    lsb_dir: Path = Path("/etc/init.d")
    extra_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    log_facility: str = "none"  # "none": agents log to stderr, which the executor logs
    log_file: str | None = None
    kill_grace_s: float = 1.0  # SIGTERM to SIGKILL, after a timeout
    netns: str | None = None  # run agents inside this network namespace (ip netns exec)
    max_output: int = 256 * 1024


def ocf_environment(op: Operation, config: ExecutorConfig) -> dict[str, str]:
    """Process environment for an OCF agent running ``op``.

    The daemon's own environment is the base (so markers such as ``DEFIB_LOCAL_NODE`` and
    ``PATH`` reach the agent and its children), then every parameter and meta-attribute as
    ``OCF_RESKEY_<name>`` / ``OCF_RESKEY_CRM_meta_<name>``, then the OCF variables.
    """
    env = dict(os.environ)
    # A stale OCF_RESKEY_* inherited from whoever started the daemon must not leak in.
    for name in [n for n in env if n.startswith("OCF_")]:
        del env[name]
    env.update(config.extra_env)
    for name, value in op.all_params().items():
        env[f"OCF_RESKEY_{name}"] = value
    env.update(
        {
            "OCF_RA_VERSION_MAJOR": OCF_RA_VERSION[0],
            "OCF_RA_VERSION_MINOR": OCF_RA_VERSION[1],
            "OCF_ROOT": str(config.ocf_root),
            "OCF_EXIT_REASON_PREFIX": EXIT_REASON_PREFIX,
            "OCF_RESOURCE_INSTANCE": op.rsc.rsc_id,
            "OCF_RESOURCE_TYPE": op.rsc.agent,
            "HA_RSCTMP": str(config.run_dir),
            "HA_LOGFACILITY": config.log_facility,
            "HA_LOGTAG": f"{op.rsc.agent}({op.rsc.rsc_id})[{config.node_name}]",
            "HA_debug": env.get("HA_debug", "0"),
        }
    )
    if op.rsc.provider:
        env["OCF_RESOURCE_PROVIDER"] = op.rsc.provider
    if config.log_file:
        env["HA_LOGFILE"] = config.log_file
    return env


def lsb_environment(config: ExecutorConfig) -> dict[str, str]:
    """LSB scripts get no parameters: the daemon's environment and the run-time dir only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCF_")}
    env.update(config.extra_env)
    env["HA_RSCTMP"] = str(config.run_dir)
    return env
