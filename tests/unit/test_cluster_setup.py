"""`defib cluster setup`: the cluster file, corosync.conf, keys and the systemd unit it
writes (files only; the three-host install is tests/cluster/test_install.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from defib.cluster.config import load_config, parse_config
from defib.cluster.install import Plan, parse_nodes, render_unit, write
from defib.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def setup(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "defib.cli.main", "cluster", "setup", *args,
                           "--root", str(root)], capture_output=True, text=True, cwd=ROOT)


def test_setup_corosync_writes_agreeing_files_with_safe_modes(tmp_path: Path) -> None:
    done = setup(tmp_path, "web", "alpha=192.0.2.11,198.51.100.11",
                 "beta=192.0.2.12,198.51.100.12", "--stack", "corosync")
    assert done.returncode == 0, done.stderr
    cfg = load_config(tmp_path / "etc/defib/cluster.toml")
    assert cfg.stack == "corosync" and cfg.name == "web"
    assert [(n.id, n.name) for n in cfg.nodes] == [(1, "alpha"), (2, "beta")]
    assert cfg.nodes[1].addresses == (("192.0.2.12", 5405), ("198.51.100.12", 5406))
    assert cfg.quorum.two_node  # two nodes: votequorum's two_node, as Corosync would
    assert cfg.state_dir == Path("/var/lib/defib")  # the target's path, not under --root
    assert cfg.key_file == tmp_path / "etc/defib/authkey"
    conf = (tmp_path / "etc/corosync/corosync.conf").read_text()
    for line in ("cluster_name: web", "two_node: 1", "ring1_addr: 198.51.100.12",
                 "name: beta", "nodeid: 2", "quorum_votes: 1", "crypto_cipher: aes256",
                 "keyfile: /etc/corosync/authkey"):
        assert line in conf
    modes = {p: (tmp_path / p).stat().st_mode & 0o777 for p in
             ("etc/defib/authkey", "etc/corosync/authkey", "var/lib/defib")}
    assert modes == {"etc/defib/authkey": 0o600, "etc/corosync/authkey": 0o400,
                     "var/lib/defib": 0o700}
    unit = (tmp_path / "etc/systemd/system/defib.service").read_text()
    assert "After=network-online.target time-sync.target corosync.service" in unit
    assert "Requires=corosync.service" in unit and "Restart=on-failure" in unit
    assert "StandardError=journal" in unit
    assert "daemon --config /etc/defib/cluster.toml --node %l" in unit
    # A second setup does not silently replace the keys.
    again = setup(tmp_path, "web", "alpha=192.0.2.11", "--stack", "corosync")
    assert again.returncode == 1 and "--force" in again.stderr


def test_setup_heartbeat_has_no_corosync_files(tmp_path: Path) -> None:
    done = setup(tmp_path, "db", "n1=192.0.2.1", "n2=192.0.2.2", "n3=192.0.2.3", "--port", "6000")
    assert done.returncode == 0, done.stderr
    cfg = load_config(tmp_path / "etc/defib/cluster.toml")
    assert cfg.stack == "heartbeat" and not cfg.quorum.two_node
    assert cfg.nodes[2].addresses == (("192.0.2.3", 6000),)
    assert not (tmp_path / "etc/corosync").exists()
    unit = (tmp_path / "etc/systemd/system/defib.service").read_text()
    assert "corosync.service" not in unit


@pytest.mark.parametrize("specs, message", [
    (["n1"], "expected NODE=ADDRESS"),
    (["../x=192.0.2.1"], "expected NODE=ADDRESS"),
    (["n1=192.0.2.1", "n1=192.0.2.2"], "unique"),
    (["n1=192.0.2.1,192.0.2.9", "n2=192.0.2.2"], "same number of addresses"),
    (["n1=192.0.2.1:5405"], "IPv4 address or host name"),
])
def test_bad_node_specs_are_refused_with_a_reason(specs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_nodes(specs)


def test_stack_is_checked_in_the_cluster_file(tmp_path: Path) -> None:
    text = '[cluster]\nstack = "openais"\n[[node]]\nid = 1\nname = "a"\naddresses = ["h:1"]\n'
    with pytest.raises(ConfigError, match=r"line 2: \[cluster\] stack = \"openais\": must be"):
        parse_config(text, tmp_path)
    cfg = parse_config(text.replace("openais", "corosync"), tmp_path)
    assert cfg.stack == "corosync"
    assert parse_config(text.replace('stack = "openais"\n', ""), tmp_path).stack == "heartbeat"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (the unit is not verified)")
@pytest.mark.parametrize("stack", ["heartbeat", "corosync"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, stack: str) -> None:
    exe = tmp_path / "defib"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    plan = Plan("web", parse_nodes(["a=192.0.2.1", "b=192.0.2.2", "c=192.0.2.3"]),
                stack=stack, executable=str(exe))
    unit = tmp_path / "defib.service"
    unit.write_text(render_unit(plan))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True)
    # Only defib.service's own complaints count (other units of this machine may have some).
    ours = [line for line in done.stderr.splitlines() if "defib.service" in line]
    assert done.returncode == 0 and ours == [], done.stderr


def test_write_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    plan = Plan("web", parse_nodes(["a=192.0.2.1"]))
    written = write(plan, tmp_path)
    assert tmp_path / "etc/defib/cluster.toml" in written
    key = (tmp_path / "etc/defib/authkey").read_bytes()
    with pytest.raises(ConfigError, match="exists"):
        write(plan, tmp_path)
    write(plan, tmp_path, force=True)
    assert (tmp_path / "etc/defib/authkey").read_bytes() != key
