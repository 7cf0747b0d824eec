"""Local nodes as hosts: fencing kills what escaped the node's marker, a virtual IP fails over.

Real daemons, each in its own PID/mount/UTS/network namespaces on a 198.18 bridge; real
agents (``ocf:heartbeat:anything`` through ``su -``, ``ocf:heartbeat:IPaddr2``); fencing by
``fence_defib_local`` through the fenced host's power switch. Root only.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cluster import hosts
from defib.cluster.hostinit import members, pid_namespace
from defib.cluster.testing import LocalCluster
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.fencing.local_agent import marker_of, node_is_on

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(hosts.unavailable_reason() is not None,
                       reason=f"nodes as hosts: {hosts.unavailable_reason()}"),
]

LOOP = "#!/bin/sh\n# $1 names this process for the test\nwhile :; do sleep 1; done\n"
# A service that daemonizes: its daemon leaves the session and the whole environment.
DAEMONIZE = ('#!/bin/sh\nhere=$(dirname "$0")\n'
             'setsid env -i /bin/sh -c "$here/loop.sh $1-daemon &" </dev/null >/dev/null 2>&1\n'
             'exec "$here/loop.sh" "$1-parent"\n')


def group(gid: str, *primitives: str) -> str:
    return f'<group id="{gid}">{"".join(primitives)}</group>'


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def with_token(token: str) -> list[int]:
    """Machine PIDs of the processes that carry ``token`` as an argument."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and token in cmdline(int(p))]


def leftovers(tag: str) -> list[str]:
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line for line in (links + netns).splitlines() if tag in line]


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    for name, text in (("loop.sh", LOOP), ("daemonize.sh", DAEMONIZE)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return tmp_path


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ResourceCluster]:
    directory = tmp_path / "c"
    try:
        with ResourceCluster(directory, 3, hosts=True) as rc:
            yield rc
    finally:
        # Whatever happened: no bridge, veth or namespace of this cluster is left.
        tag = hosts.tag_of(directory)
        assert leftovers(tag) == []


def host_of(rc: ResourceCluster, node: str) -> tuple[int, str]:
    return host_record_of(rc.dir, node)


def test_su_and_double_fork_are_fenced_for_real(cluster: ResourceCluster,
                                                scripts: Path) -> None:
    rc = cluster
    token = f"t{os.getpid()}"
    resources = fence_device() + group(
        "svc",
        # user defaults to root: anything starts its program through `su - root`.
        primitive("su", "ocf", "anything", "heartbeat",
                  {"binfile": str(scripts / "loop.sh"), "cmdline_options": f"{token}-su"}),
        primitive("fork", "ocf", "anything", "heartbeat",
                  {"binfile": str(scripts / "daemonize.sh"), "cmdline_options": token}))
    # freeze: the cut-off node keeps its services running until it is fenced.
    rc.load(cib_xml(resources, properties={"no-quorum-policy": "freeze"}))
    home, _ = rc.wait_running("fork", timeout=40)
    rc.wait("both services run", lambda: rc.locations().get("su") == [home], timeout=20)
    _, namespace = host_of(rc, home)
    escaped = {}
    for name in (f"{token}-su", f"{token}-daemon"):
        rc.wait(f"{name} started", lambda n=name: bool(with_token(n)), timeout=10)
        [pid] = with_token(name)
        assert pid_namespace(pid) == namespace  # it runs on the home host...
        assert marker_of(pid) is None  # ...and the node's marker would not find it
        escaped[name] = pid
    # Pull the home host's cables: the others lose it, keep quorum and fence it.
    rc.down.add(home)
    hosts.set_cable(rc.dir, int(home.removeprefix("node")), up=False)
    rc.wait("home fenced", lambda: home in rc.dc_status()["fenced"], timeout=30)
    rc.wait("nothing of the home host left", lambda: members(namespace) == [], timeout=10)
    for name, pid in escaped.items():
        assert pid_namespace(pid) != namespace, f"{name} (pid {pid}) survived the fencing"
    where, _ = rc.wait_running("fork", not_on={home}, timeout=30)
    rc.wait("services restarted elsewhere",
            lambda: all(len(with_token(n)) == 1 for n in escaped), timeout=15)
    _, new_namespace = host_of(rc, where)
    assert {pid_namespace(with_token(n)[0]) for n in escaped} == {new_namespace}


def served_by(client: hosts.ClientNamespace, url: str) -> str | None:
    done = client.run("curl", "-s", "--max-time", "2", url)
    found = re.search(r"served by (\w+)", done.stdout)
    return found.group(1) if found else None


def test_virtual_ip_fails_over_between_hosts(cluster: ResourceCluster) -> None:
    rc = cluster
    vip, port = "198.18.0.100", "8080"
    resources = fence_device() + group(
        "web",
        primitive("vip", "ocf", "IPaddr2", "heartbeat",
                  {"ip": vip, "cidr_netmask": "24", "nic": "eth0"}),
        primitive("www", "ocf", "DemoHTTP", "defib", {"address": "0.0.0.0", "port": port}))
    rc.load(cib_xml(resources))
    home, _ = rc.wait_running("www", timeout=40)
    url = f"http://{vip}:{port}/"
    with hosts.ClientNamespace(rc.dir) as client:
        rc.wait("client reaches the VIP", lambda: served_by(client, url) == home, timeout=15)
        # The address lives on the home host only, not on the machine nor the others.
        assert vip not in subprocess.run(["ip", "-o", "addr"], capture_output=True,
                                         text=True).stdout
        init_pid, _ = host_of(rc, home)
        inside = subprocess.run(["nsenter", "-t", str(init_pid), "-n", "ip", "-o", "addr"],
                                capture_output=True, text=True).stdout
        assert f"inet {vip}/24" in inside
        rc.crash(home)  # a power cut of the whole host
        where, _ = rc.wait_running("www", not_on={home}, timeout=30)
        rc.wait("client reaches the VIP on the new host",
                lambda: served_by(client, url) == where, timeout=15)
        assert home in rc.dc_status()["fenced"]


def test_daemon_crash_leaves_the_host_up_and_a_new_daemon_rejoins(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    try:
        with LocalCluster(directory, 3, controller=False, hosts=True) as cluster:
            cluster.start()
            cluster.wait_formed()
            init_pid, namespace = host_record_of(directory, "node3")
            old = hosts.daemon_process(directory, "node3")
            cluster.kill("node3")  # the daemon alone
            cluster.wait_for("node3 lost", lambda: all(
                [m["name"] for m in cluster.status(n)["nodes"] if m["member"]]
                == ["node1", "node2"] for n in ("node1", "node2")), timeout=10)
            # The host lives on: same init, its network stack and switch still there.
            assert hosts.host_record(directory, "node3") is not None
            assert init_pid in members(namespace)
            assert node_is_on(str(directory), "node3")
            cluster.start(["node3"])
            cluster.wait_formed(timeout=20)
            new = hosts.daemon_process(directory, "node3")
            assert new is not None and new != old and pid_namespace(new) == namespace
    finally:
        assert leftovers(hosts.tag_of(directory)) == []


def host_record_of(directory: Path, node: str) -> tuple[int, str]:
    record = hosts.host_record(directory, node)
    assert record is not None, f"{node} is not running as a host"
    return int(str(record["init_pid"])), str(record["pid_namespace"])
