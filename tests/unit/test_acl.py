"""Pacemaker's ACLs: reads filtered, writes checked element by element, through the control
socket with the caller's real credentials."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from defib.acl.identity import identity_of
from defib.acl.rules import Access, acl_enabled, denied_writes, permissions_for
from defib.cluster import cibxml
from defib.cluster.cibxml import CibCopy
from defib.cluster.control import ControlServer
from defib.cluster.node import ClusterNode

CIB = """<cib epoch="3" num_updates="0" admin_epoch="0">
<configuration>
<crm_config><cluster_property_set id="opts">
<nvpair id="opts-acl" name="enable-acl" value="{acl}"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources>
<primitive id="web" class="ocf" provider="heartbeat" type="Dummy">
<instance_attributes id="web-ia"><nvpair id="web-pw" name="password" value="s3cret"/>
</instance_attributes>
<meta_attributes id="web-meta"><nvpair id="web-role" name="target-role" value="Started"/>
</meta_attributes></primitive>
</resources>
<constraints/>
<acls>
<acl_target id="nobody"><role id="{role}"/></acl_target>
<acl_role id="reader"><acl_permission id="r1" kind="read" xpath="/cib"/>
<acl_permission id="r2" kind="deny" xpath="//nvpair[@name='password']"/></acl_role>
<acl_role id="operator"><acl_permission id="o1" kind="read" xpath="/cib"/>
<acl_permission id="o2" kind="write" xpath="//meta_attributes/nvpair[@name='target-role']"/>
</acl_role>
</acls>
</configuration>
<status/>
</cib>"""
NOBODY = identity_of(65534, 65534, gids={65534})


def doc(role: str = "reader", acl: str = "true") -> ET.Element:
    return ET.fromstring(CIB.format(role=role, acl=acl))


def access(root: ET.Element, who: Any = NOBODY) -> Access:
    return Access(root, permissions_for(root, who))


def resources_with(root: ET.Element, edit: str) -> ET.Element:
    new = ET.fromstring(ET.tostring(root))
    if edit == "target-role":
        new.find(".//nvpair[@id='web-role']").set("value", "Stopped")  # type: ignore[union-attr]
    elif edit == "password":
        new.find(".//nvpair[@id='web-pw']").set("value", "x")  # type: ignore[union-attr]
    elif edit == "new-resource":
        ET.SubElement(new.find(".//resources"), "primitive", id="evil")  # type: ignore[arg-type]
    elif edit == "delete":
        res = new.find(".//resources")
        res.remove(res.find("primitive"))  # type: ignore[union-attr,arg-type]
    return new


def test_enable_acl_and_targets() -> None:
    assert acl_enabled(doc()) and not acl_enabled(doc(acl="false"))
    assert permissions_for(doc(), identity_of(1234, 1234, gids=set())) == []
    grouped = doc()
    acls = grouped.find(".//acls")
    assert acls is not None
    group = ET.SubElement(acls, "acl_group", id="ops")
    ET.SubElement(group, "role", id="operator")
    member = identity_of(4321, 4321, gids=set())
    member = type(member)(member.uid, member.gid, 0, "carol", frozenset({"ops"}))
    assert [p.kind for p in permissions_for(grouped, member)] == ["read", "write"]


def test_reads_are_filtered_and_deny_wins_where_it_applies() -> None:
    root = doc()
    seen = access(root).filtered()
    assert seen.find(".//primitive[@id='web']") is not None
    assert seen.find(".//nvpair[@name='password']") is None
    assert seen.find(".//nvpair[@name='target-role']") is not None
    nothing = Access(root, []).filtered()
    assert nothing.tag == "cib" and len(nothing) == 0 and nothing.get("epoch") == "3"


def test_shells_keep_the_path_to_what_may_be_read() -> None:
    root = doc()
    acls = root.find(".//acls")
    assert acls is not None
    role = ET.SubElement(acls, "acl_role", id="narrow")
    ET.SubElement(role, "acl_permission", id="n1", kind="read", reference="web-role")
    target = acls.find("acl_target")
    assert target is not None
    target[0].set("id", "narrow")
    seen = access(root).filtered()
    primitive = seen.find(".//primitive")
    assert primitive is not None and primitive.attrib == {"id": "web"}
    assert [e.get("id") for e in seen.iter() if e.get("name")] == ["web-role"]


@pytest.mark.parametrize(
    ("role", "edit", "allowed"),
    [("reader", "target-role", False), ("operator", "target-role", True),
     ("operator", "password", False), ("operator", "new-resource", False),
     ("operator", "delete", False), ("reader", "delete", False)],
)
def test_writes_are_checked_element_by_element(role: str, edit: str, allowed: bool) -> None:
    root = doc(role)
    perms = permissions_for(root, NOBODY)
    new = resources_with(root, edit)
    denied = denied_writes(root, new, Access(root, perms), Access(new, perms))
    assert (denied == []) is allowed, denied


CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile()
for line in sys.stdin:
    s.sendall(line.encode())
    print(f.readline(), end="", flush=True)
"""


class FakeNode:
    """The node side of the control socket: a CIB that changes as the DC would change it."""

    def __init__(self, xml: str) -> None:
        self.node = SimpleNamespace(name="n1")
        self.cib = SimpleNamespace(copy=CibCopy.of(xml))
        self.ops: dict[str, Any] = {}

    def status(self) -> dict[str, Any]:
        return {"members": [1]}

    def get_cib(self) -> dict[str, Any]:
        return {"xml": self.cib.copy.xml, "version": list(self.cib.copy.version)}

    async def change(self, change: dict[str, Any]) -> dict[str, Any]:
        self.cib.copy = cibxml.apply_change(self.cib.copy, change)
        return {"version": list(self.cib.copy.version)}


def _as_nobody(path: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(["/usr/bin/python3", "-c", CLIENT, str(path)], user=65534,
                          group=65534, extra_groups=[], capture_output=True, text=True,
                          timeout=30, check=True,
                          input="".join(json.dumps(r) + "\n" for r in requests))
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def world_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="defib-acl-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def _serve(directory: Path, node: FakeNode,
           requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async def scenario() -> list[dict[str, Any]]:
        server = ControlServer(cast(ClusterNode, node), directory / "control.sock",
                               lambda: None, mode=0o666)
        await server.start()
        try:
            return await asyncio.to_thread(_as_nobody, directory / "control.sock", requests)
        finally:
            await server.stop()
    return asyncio.run(scenario())


def _resources(root: ET.Element) -> str:
    section = root.find("./configuration/resources")
    assert section is not None
    return ET.tostring(section, encoding="unicode")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs a client as user nobody")


@needs_root
def test_read_only_user_sees_status_and_cannot_change_anything(
    world_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = FakeNode(ET.tostring(doc("reader"), encoding="unicode"))
    stopped = _resources(resources_with(doc("reader"), "target-role"))
    change = {"op": "replace_section", "section": "resources", "xml": stopped}
    with caplog.at_level("WARNING", logger="defib.control"):
        status, cib, changed, fence = _serve(world_dir, node, [
            {"op": "status"}, {"op": "get_cib"}, {"op": "cib_change", "change": change},
            {"op": "crm_fence", "node": "n1"}])
    assert status == {"ok": True, "members": [1]}
    assert cib["ok"] and "s3cret" not in cib["xml"] and 'name="target-role"' in cib["xml"]
    assert changed["ok"] is False and changed["kind"] == "PermissionDenied"
    assert "nobody may not change" in changed["error"] and "web-role" in changed["error"]
    assert fence["ok"] is False and "needs admin rights" in fence["error"]
    assert node.cib.copy.version == (0, 3, 0), "nothing was changed"
    assert "refused 'cib_change' for user nobody (uid 65534" in caplog.text
    assert "refused 'crm_fence' for user nobody (uid 65534" in caplog.text


@needs_root
def test_operator_may_set_target_role_and_nothing_else(world_dir: Path) -> None:
    node = FakeNode(ET.tostring(doc("operator"), encoding="unicode"))
    role = _resources(resources_with(doc("operator"), "target-role"))
    password = _resources(resources_with(doc("operator"), "password"))
    answers = _serve(world_dir, node, [
        {"op": "cib_change", "change": {"op": "replace_section", "section": "resources",
                                        "xml": password}},
        {"op": "cib_change", "change": {"op": "replace_section", "section": "resources",
                                        "xml": role}},
        {"op": "cib_change", "change": {"op": "replace_section", "section": "crm_config",
                                        "xml": "<crm_config/>"}},
    ])
    assert [a["ok"] for a in answers] == [False, True, False]
    assert 'value="Stopped"' in node.cib.copy.xml and "s3cret" in node.cib.copy.xml


@needs_root
def test_without_enable_acl_others_get_nothing(world_dir: Path) -> None:
    node = FakeNode(ET.tostring(doc("operator", acl="false"), encoding="unicode"))
    answers = _serve(world_dir, node, [{"op": "status"}, {"op": "get_cib"}])
    assert all(a["ok"] is False and "ACLs are not enabled" in a["error"] for a in answers)
