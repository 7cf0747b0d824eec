"""Files, directories and sockets private from birth; the control socket's peer check."""

from __future__ import annotations

import asyncio
import grp
import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from defib.acl.identity import identity_of
from defib.cluster.cibxml import CibCopy
from defib.cluster.control import ControlServer
from defib.cluster.node import ClusterNode
from defib.cluster.private import bind_unix, private_dir, write_private
from defib.history.series import PeSeries


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask: anything not created private would show."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_dirs_files_and_sockets_are_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    state = private_dir(tmp_path / "a" / "b")
    assert mode(state) == 0o700 and mode(tmp_path / "a") == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    assert mode(private_dir(loose)) == 0o700, "an existing loose directory is tightened"
    assert mode(write_private(state / "f", "secret")) == 0o600
    assert (state / "f").read_text() == "secret"
    sock = bind_unix(state / "s.sock")
    try:
        assert mode(state / "s.sock") == 0o600
    finally:
        sock.close()
    assert os.umask(0) == 0, "the process umask is restored"


def test_pe_inputs_and_graphs_are_private(tmp_path: Path, open_umask: None) -> None:
    series = PeSeries(tmp_path / "pengine")
    number = series.next_number()
    for kind in ("input", "graph"):
        path = series.save(kind, number, "<cib><nvpair name='password' value='x'/></cib>")
        assert mode(path) == 0o600
    assert mode(tmp_path / "pengine") == 0o700
    assert sorted(p.name for p in (tmp_path / "pengine").iterdir()) == [
        "pe-graph-0.xml", "pe-input-0.xml"]


def test_identity_admin_rules() -> None:
    assert identity_of(0, 0).is_admin()
    nobody = identity_of(65534, 65534, gids={65534})
    assert nobody.user == "nobody" and not nobody.is_admin()
    try:
        gid = grp.getgrnam("haclient").gr_gid
    except KeyError:
        pytest.skip("no haclient group on this machine")
    assert identity_of(65534, 65534, gids={65534, gid}).is_admin()
    assert identity_of(65534, 65534, gids={65534, gid}).is_admin("admins") is False


CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"op": "status"}\\n')
print(s.makefile().readline(), end="")
"""


def _as_user(path: Path, extra_groups: list[int] | None = None) -> dict[str, Any]:
    done = subprocess.run(["/usr/bin/python3", "-c", CLIENT, str(path)], user=65534,
                          group=65534, extra_groups=extra_groups or [], capture_output=True,
                          text=True, timeout=30, check=True)
    return cast(dict[str, Any], json.loads(done.stdout))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_control_socket_checks_peer_credentials(caplog: pytest.LogCaptureFixture) -> None:
    try:
        gid = grp.getgrnam("haclient").gr_gid
    except KeyError:
        pytest.skip("no haclient group on this machine")
    node = SimpleNamespace(node=SimpleNamespace(name="n1"), status=lambda: {"alive": 1},
                           ops={}, cib=SimpleNamespace(copy=CibCopy.of("<cib><configuration/>"
                                                                      "</cib>")))
    # A world-reachable directory and socket mode: only SO_PEERCRED stands in the way.
    directory = Path(tempfile.mkdtemp(prefix="defib-peercred-"))
    try:
        directory.chmod(0o755)
        path = directory / "control.sock"

        async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
            server = ControlServer(cast(ClusterNode, node), path, lambda: None, mode=0o666)
            await server.start()
            try:
                refused = await asyncio.to_thread(_as_user, path)
                admitted = await asyncio.to_thread(_as_user, path, [gid])
                return refused, admitted
            finally:
                await server.stop()

        with caplog.at_level("WARNING", logger="defib.control"):
            refused, admitted = asyncio.run(scenario())
        assert refused["ok"] is False and refused["kind"] == "PermissionDenied"
        assert "ACLs are not enabled" in refused["error"]
        assert "refused 'status' for user nobody (uid 65534" in caplog.text
        assert admitted == {"ok": True, "alive": 1}, "a member of haclient is served"
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()
