"""Commands run for a user (``open_env(user=...)``, ``$CIB_user`` on the command line): an
administrator's requests carry the user, and the control socket applies that user's ACLs
(a real control socket and gate, the CIB of tests/unit/test_acl.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest

from defib.cluster.control import ControlServer
from defib.cluster.node import ClusterNode
from defib.commands import resource
from defib.commands.env import open_env
from defib.errors import PermissionDeniedError
from tests.unit.test_acl import FakeNode, doc

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the test process must be an administrator")


@contextmanager
def serving(tmp_path: Path, role: str) -> Iterator[tuple[Path, FakeNode]]:
    """A cluster directory whose node n1 answers on a real control socket; user nobody
    has ACL role ``role``."""
    directory = tmp_path / "c"
    (directory / "n1").mkdir(parents=True)
    (directory / "cluster.toml").write_text(
        '[cluster]\nname = "t"\n\n[[node]]\nid = 1\nname = "n1"\n'
        'addresses = ["127.0.0.11:5405"]\n')
    node = FakeNode(ET.tostring(doc(role), encoding="unicode"))
    loop = asyncio.new_event_loop()
    server = ControlServer(cast(ClusterNode, node), directory / "n1" / "control.sock",
                           lambda: None)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield directory, node
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        # Connection handlers still finishing: end them inside the loop before closing it.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def test_an_administrator_acting_for_a_user_has_that_users_rights(tmp_path: Path) -> None:
    with serving(tmp_path, "operator") as (directory, node):
        as_nobody = open_env(directory=directory, user="nobody")
        # nobody (role operator) may write target-role and nothing else
        assert resource.stop(as_nobody, "web").changed
        before = node.cib.copy.version
        with pytest.raises(PermissionDeniedError) as refused:
            resource.set_meta(as_nobody, "web", "is-managed", "false")
        assert refused.value.code == "permission-denied"
        assert node.cib.copy.version == before
        # the administrator's own rights: everything
        assert resource.set_meta(open_env(directory=directory), "web", "is-managed",
                                 "false").changed


def test_reads_for_a_user_are_filtered(tmp_path: Path) -> None:
    with serving(tmp_path, "reader") as (directory, _):
        assert "s3cret" not in open_env(directory=directory, user="nobody").read()
        assert "s3cret" in open_env(directory=directory).read()
        with pytest.raises(PermissionDeniedError):
            resource.stop(open_env(directory=directory, user="nobody"), "web")


WRITES = [
    ["configure", "primitive", "evil", "ocf:heartbeat:Dummy"],
    ["resource", "unmanage", "web"],
    ["resource", "param", "web", "state", "/run/x"],
    ["resource", "meta", "web", "priority", "5"],
    ["resource", "utilization", "web", "cpu", "2"],
    ["resource", "move", "web", "n1"],
    ["resource", "ban", "web", "n1"],
    ["resource", "cleanup", "web"],
    ["node", "standby", "n1"],
    ["property", "stonith-enabled", "false"],
    ["attribute", "--name", "cluster-recheck-interval", "--update", "5min", "--type",
     "crm_config"],
    ["ticket", "grant", "t1"],
    ["cib", "import", "--force", "IMPORT"],
]


def _cli(argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    from defib.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("role", ["reader", "operator"])
def test_every_command_kind_is_checked_for_the_user_and_refusals_logged(
        tmp_path: Path, role: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """As $CIB_user nobody: a reader changes nothing through any command; an operator may
    set target-role (resource stop/start) and nothing else. Reads work, filtered."""
    imported = tmp_path / "import.xml"
    imported.write_text(ET.tostring(doc(role), encoding="unicode").replace(
        'value="s3cret"', 'value="stolen"'))
    with serving(tmp_path, role) as (directory, node), \
            caplog.at_level("WARNING", logger="defib.control"):
        monkeypatch.setenv("CIB_user", "nobody")
        before = node.cib.copy.version
        for argv in WRITES:
            argv = [str(imported) if a == "IMPORT" else a for a in argv]
            code, text = _cli([*argv, "--dir", str(directory)])
            assert code != 0, (argv, text)
            assert "Traceback" not in text
            assert "nobody" in text or "admin rights" in text, (argv, text)
            assert node.cib.copy.version == before, argv
        code, shown = _cli(["configure", "show", "--dir", str(directory)])
        # The reader's role denies the password; the operator's does not.
        assert code == 0 and "web" in shown and ("s3cret" in shown) == (role == "operator")
        code, text = _cli(["resource", "stop", "web", "--force", "--dir", str(directory)])
        if role == "operator":
            assert code == 0, text
            assert 'value="Stopped"' in node.cib.copy.xml
        else:
            assert code != 0 and node.cib.copy.version == before
    refusals = [r.getMessage() for r in caplog.records if "for user nobody" in r.getMessage()]
    assert len(refusals) >= len(WRITES), refusals
