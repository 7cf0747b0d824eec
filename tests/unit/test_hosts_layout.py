"""Nodes as hosts, without starting any: the layout written, addresses, the switch client."""

from __future__ import annotations

import ipaddress
import socket
import threading
from pathlib import Path

import pytest

from defib.cluster import hosts, local
from defib.cluster.config import load_config
from defib.errors import ClusterError
from defib.fencing.local_agent import host_request, main, node_is_on

TEST_NET = ipaddress.ip_network("198.18.0.0/15")


def test_a_cluster_of_hosts_uses_198_18_only_and_is_recorded(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    local.create(directory, 5, links=2, hosts=True)
    cfg = load_config(directory / local.CONFIG_NAME)
    addrs = [ipaddress.ip_address(h) for n in cfg.nodes for h, _ in n.addresses]
    assert len(set(addrs)) == 10 and all(a in TEST_NET for a in addrs)
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                  "192.168.0.0/16")]
    assert not any(a in net for a in addrs for net in private)
    assert {p for n in cfg.nodes for _, p in n.addresses} == {5405, 5406}
    lay = hosts.layout(directory)
    assert lay is not None and lay.links == 2 and lay.tag == hosts.tag_of(directory)
    assert all(len(name) <= 15 for name in lay.bridges())
    assert hosts.layout(tmp_path) is None  # a directory without hosts.json


def test_a_cluster_of_hosts_cannot_live_under_run() -> None:
    with pytest.raises(ClusterError, match="/run"):
        hosts.enable(Path("/run/defib-x"), 2)


def test_fence_agent_asks_the_power_switch(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    local.create(directory, 2, hosts=True)
    # No switch answering: the host is off, and powering it off succeeds at once.
    assert not node_is_on(str(directory), "node1")
    assert main(["-o", "status", "-n", "node1", "--cluster-dir", str(directory)]) == 2
    assert main(["-o", "off", "-n", "node1", "--cluster-dir", str(directory)]) == 0
    # A switch that answers: status on, off forwarded.
    (directory / "node2").mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(directory / "node2" / "power.sock"))
    server.listen(4)
    asked: list[str] = []

    def answer() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                asked.append(conn.recv(64).decode().strip())
                conn.sendall(b"on 1 pid:[1]\n" if asked[-1] == "status" else b"off 3\n")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert host_request(str(directory), "node2", "status", 5.0) == "on 1 pid:[1]"
        assert main(["-o", "off", "-n", "node2", "--cluster-dir", str(directory)]) == 0
    finally:
        thread.join(5)
        server.close()
    assert asked == ["status", "off"]


def test_a_switch_that_dies_mid_answer_means_the_host_is_off(tmp_path: Path) -> None:
    """The supply exits as its host goes down: a status asked just then gets a reset
    connection, which is an answer (off), not an error for the caller (found by the lab)."""
    directory = tmp_path / "c"
    local.create(directory, 2, hosts=True)
    (directory / "node1").mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(directory / "node1" / "power.sock"))
    server.listen(1)

    def die() -> None:
        conn, _ = server.accept()
        # Closed with the request unread: the kernel resets the caller's connection.
        conn.recv(0)
        conn.close()

    thread = threading.Thread(target=die)
    thread.start()
    try:
        assert not node_is_on(str(directory), "node1")
    finally:
        thread.join(5)
        server.close()
