"""Web logins: password hashes, the users file, sessions that expire, CSRF tokens, the
certificate; and what the page is told a user may do (advice; the gate decides)."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.errors import CommandError
from defib.web.auth import Sessions, Users, check_password, csrf_ok, hash_password
from defib.web.rights import rights
from defib.web.tls import ensure_certificate, fingerprint, server_context


def test_hash_is_salted_and_checks() -> None:
    one, two = hash_password("correct horse"), hash_password("correct horse")
    assert one != two and one.startswith("scrypt$")
    assert check_password("correct horse", one) and check_password("correct horse", two)
    assert not check_password("wrong horse", one)
    assert not check_password("correct horse", "scrypt$broken")
    assert not check_password("correct horse", "md5$1$2$3$00$00")


def test_users_file_is_private_and_managed(tmp_path: Path) -> None:
    users = Users.of(tmp_path)
    users.add("alice", "alice-secret")
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert "alice-secret" not in users.path.read_text()
    assert users.verify("alice", "alice-secret") and not users.verify("alice", "nope")
    assert not users.verify("bob", "alice-secret")
    with pytest.raises(CommandError, match="exists already"):
        users.add("alice", "other-secret")
    with pytest.raises(CommandError, match="not a valid user name"):
        users.add("../x", "other-secret")
    users.passwd("alice", "new-secret")
    assert users.verify("alice", "new-secret") and not users.verify("alice", "alice-secret")
    users.delete("alice")
    assert users.names() == []
    with pytest.raises(CommandError, match="no web user"):
        users.passwd("alice", "x-secret-x")


def test_damaged_users_file_is_reported(tmp_path: Path) -> None:
    users = Users.of(tmp_path)
    users.path.parent.mkdir(parents=True)
    users.path.write_text("{not json")
    with pytest.raises(CommandError, match="cannot read the web users file"):
        users.verify("alice", "x")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_when_idle_and_absolutely() -> None:
    clock = Clock()
    sessions = Sessions(idle_s=60, absolute_s=300, clock=clock)
    first = sessions.create("alice")
    assert first.token != first.csrf
    clock.now += 50
    assert sessions.get(first.token) is first  # used: idle time starts again
    clock.now += 50
    assert sessions.get(first.token) is first
    clock.now += 61
    assert sessions.get(first.token) is None   # idle too long
    second = sessions.create("alice")
    for _ in range(6):
        clock.now += 55
        assert sessions.alive(second.token) == (clock.now - second.created <= 300)
        sessions.get(second.token)
    assert sessions.get(second.token) is None  # over the absolute limit, however used
    assert sessions.get(None) is None and sessions.get("forged") is None


def test_alive_does_not_count_as_use() -> None:
    clock = Clock()
    sessions = Sessions(idle_s=60, absolute_s=300, clock=clock)
    session = sessions.create("alice")
    clock.now += 40
    assert sessions.alive(session.token)
    clock.now += 40
    assert not sessions.alive(session.token)


def test_end_and_end_user() -> None:
    sessions = Sessions()
    a, b, c = sessions.create("alice"), sessions.create("alice"), sessions.create("bob")
    sessions.end(a.token)
    assert sessions.get(a.token) is None and sessions.get(b.token) is b
    sessions.end_user("alice")
    assert sessions.get(b.token) is None and sessions.get(c.token) is c


def test_csrf_token_must_match() -> None:
    session = Sessions().create("alice")
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, "")
    assert not csrf_ok(session, session.token)


def test_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path / "web", ["127.0.0.1"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    print_before = fingerprint(cert)
    assert ensure_certificate(tmp_path / "web", ["127.0.0.1"]) == (cert, key)
    assert fingerprint(cert) == print_before and len(print_before.split(":")) == 32
    server_context(cert, key)  # the pair loads: key and certificate belong together


ACL_CIB = """<cib><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o-acl" name="enable-acl" value="{acl}"/></cluster_property_set></crm_config>
<nodes/><resources/><constraints/>
<acls>
<acl_role id="ro"><acl_permission id="ro-r" kind="read" xpath="/cib"/></acl_role>
<acl_role id="ops"><acl_permission id="ops-r" kind="read" xpath="/cib"/>
  <acl_permission id="ops-w" kind="write" xpath="/cib/configuration/resources"/></acl_role>
<acl_target id="viewer"><role id="ro"/></acl_target>
<acl_target id="operator"><role id="ops"/></acl_target>
</acls></configuration><status/></cib>"""


def test_rights_follow_the_acls() -> None:
    root = ET.fromstring(ACL_CIB.format(acl="true"))
    admin = rights(root, "root", "haclient")
    assert admin["admin"] and all(admin["write"].values())
    viewer = rights(root, "viewer", "haclient")
    assert viewer["read"] and not viewer["admin"] and not any(viewer["write"].values())
    operator = rights(root, "operator", "haclient")
    assert operator["write"]["resources"] and not operator["write"]["constraints"]
    assert not operator["admin"]
    assert rights(root, "stranger", "haclient")["read"] is False
    # Without enable-acl only administrators may do anything (the gate's rule).
    off = ET.fromstring(ACL_CIB.format(acl="false"))
    assert json.dumps(rights(off, "operator", "haclient")) == json.dumps(
        {"admin": False, "read": False, "write": dict.fromkeys(admin["write"], False)})
