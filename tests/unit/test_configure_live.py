"""``defib configure`` against a running local cluster (real daemons, real control sockets)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFIB = [sys.executable, "-m", "defib.cli.main"]
pytestmark = pytest.mark.cluster


def _run(cluster: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    env["DEFIB_CLUSTER_DIR"] = str(cluster)
    return subprocess.run(DEFIB + list(args), input=stdin, capture_output=True, text=True,
                          env=env, timeout=60, check=False)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "cluster"
    started = _run(directory, "cluster", "start", "-n", "2", "--dir", str(directory))
    try:
        assert started.returncode == 0, started.stderr
        yield directory
    finally:
        _run(directory, "cluster", "stop", "--dir", str(directory))


def test_configure_web_service_on_running_cluster(cluster: Path) -> None:
    script = ("primitive vip ocf:heartbeat:IPaddr2 params ip=198.18.0.10 cidr_netmask=24\n"
              "primitive www ocf:heartbeat:apache params configfile=/etc/apache2/apache2.conf\n"
              "colocation www-with-vip inf: www vip\n"
              "order vip-then-www Mandatory: vip www\n")
    r = _run(cluster, "configure", stdin=script)
    assert r.returncode == 0, r.stderr
    exported = _run(cluster, "cib", "export").stdout
    root = ET.fromstring(exported)
    assert root.find(".//primitive[@id='vip']") is not None
    assert root.find(".//rsc_order[@id='vip-then-www']").get("first") == "vip"
    assert root.find("status") is not None, "the status section must survive a configure"
    # every node serves the same configuration
    for node in ("node1", "node2"):
        shown = _run(cluster, "configure", "--node", node, "show", "www-with-vip").stdout
        assert shown == "colocation www-with-vip inf: www vip\n"
    # a typo is refused and the cluster's CIB stays as it was
    epoch = root.get("epoch")
    bad = _run(cluster, "configure", "colocation", "c2", "inf:", "www", "vipp")
    assert bad.returncode == 1 and "did you mean 'vip'?" in bad.stderr
    assert ET.fromstring(_run(cluster, "cib", "export").stdout).get("epoch") == epoch


def test_write_refused_when_configuration_changed_meanwhile(cluster: Path) -> None:
    from defib.commands.env import open_env
    from defib.configure.commands import apply_edit, edit_text
    from defib.errors import CibConflictError

    mine = open_env(directory=cluster)
    text, base = edit_text(mine)  # what "defib configure edit" shows in the editor
    assert _run(cluster, "configure", "primitive", "other", "Dummy").returncode == 0
    # Refused by the DC itself (the write carries the epoch it was based on).
    with pytest.raises(CibConflictError, match="changed since it was read"):
        apply_edit(mine, text + "primitive mine Dummy\n", base)
    assert "primitive mine" not in _run(cluster, "configure", "show").stdout
