"""The fault-injecting transport: rules, delay, reordering and drop on a real socket pair."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cluster import netfault
from defib.cluster.netfault import FaultyTransport, LinkFault, parse_rules, write_rules
from defib.lab.faults import NetFaults


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    yield tx, rx
    tx.close()
    rx.close()


def receive(rx: socket.socket, count: int) -> list[int]:
    return [int(rx.recv(100)) for _ in range(count)]


def test_rules_round_trip_and_bad_rules_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "netfault.json"
    rules = [LinkFault(to=2, delay=0.04, jitter=0.02), LinkFault(link=1, drop=0.5)]
    write_rules(path, rules)
    assert parse_rules(path.read_text()) == rules
    assert rules[0].matches(2, 0) and rules[0].matches(2, 1) and not rules[0].matches(3, 0)
    for bad in ('{"rules": [{"drop": 2}]}', '{"rules": [{"delay_ms": -1}]}', "[]",
                '{"rules": [7]}'):
        with pytest.raises(ValueError):
            parse_rules(bad)


def test_without_rules_packets_go_straight_through(
        tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    tx, rx = pair
    send = FaultyTransport(tmp_path / "netfault.json", lambda p, link: None)
    for i in range(50):
        send(tx, 2, 0, str(i).encode())
    assert receive(rx, 50) == list(range(50))
    assert send.counters == {"delayed": 0, "held_back": 0, "dropped": 0}


def test_delay_jitter_and_hold_back_reorder_but_lose_nothing(
        tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    tx, rx = pair
    path = tmp_path / "netfault.json"
    write_rules(path, [LinkFault(to=2, delay=0.02, jitter=0.01, reorder=0.3, hold=0.03)])
    send = FaultyTransport(path, lambda p, link: None, seed=4)
    started = time.monotonic()
    for i in range(200):
        send(tx, 2, 0, str(i).encode())
    got = receive(rx, 200)
    # Every packet arrives once, not before its delay, and not in the order sent.
    assert sorted(got) == list(range(200))
    assert got != list(range(200))
    assert time.monotonic() - started >= 0.02
    assert send.counters["delayed"] == 200 and 30 < send.counters["held_back"] < 100
    # Another peer is not faulted: straight through, in order.
    for i in range(5):
        send(tx, 3, 0, str(i).encode())
    assert receive(rx, 5) == list(range(5))


def test_drop_and_a_heal_within_the_reload_period(
        tmp_path: Path, pair: tuple[socket.socket, socket.socket]) -> None:
    tx, rx = pair
    path = tmp_path / "netfault.json"
    write_rules(path, [LinkFault(drop=1.0)])
    clock = [0.0]
    send = FaultyTransport(path, lambda p, link: None, clock=lambda: clock[0])
    for i in range(10):
        send(tx, 2, 1, str(i).encode())
    assert send.counters["dropped"] == 10
    path.unlink()
    clock[0] += netfault.RELOAD_EVERY  # the next look at the file finds it gone
    send(tx, 2, 1, b"11")
    assert receive(rx, 1) == [11]


def test_a_refused_delayed_packet_is_reported(tmp_path: Path) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    rx.close()  # nobody listens: the kernel answers port-unreachable
    path = tmp_path / "netfault.json"
    write_rules(path, [LinkFault(delay=0.005)])
    refused: list[tuple[int, int]] = []
    send = FaultyTransport(path, lambda p, link: refused.append((p, link)))
    deadline = time.monotonic() + 5
    while not refused and time.monotonic() < deadline:
        send(tx, 2, 1, b"x")
        time.sleep(0.01)  # pacing the probe packets, not waiting for a result
    tx.close()
    assert refused and refused[0] == (2, 1)


def test_only_nodes_of_a_local_cluster_are_faultable(tmp_path: Path) -> None:
    assert netfault.transport_for(lambda p, link: None, {}) is netfault.direct
    made = netfault.transport_for(lambda p, link: None,
                                  {"DEFIB_LOCAL_NODE": f"{tmp_path}:node2"})
    assert isinstance(made, FaultyTransport)
    assert made.path == tmp_path / "node2" / netfault.RULES_FILE


def test_lab_net_faults_apply_both_ways_and_heal(tmp_path: Path) -> None:
    names = ["node1", "node2", "node3"]
    for n in names:
        (tmp_path / n).mkdir()
    net = NetFaults(tmp_path, names)
    net.delay("node2", 30, 10)
    net.reorder("node2", 0.2, 40)
    own = parse_rules((tmp_path / "node2" / netfault.RULES_FILE).read_text())
    assert sorted(r.to or 0 for r in own) == [1, 3]
    assert all((r.delay, r.jitter, r.reorder, r.hold) == (0.03, 0.01, 0.2, 0.04) for r in own)
    towards = parse_rules((tmp_path / "node1" / netfault.RULES_FILE).read_text())
    assert [(r.to, r.delay) for r in towards] == [(2, 0.03)]
    net.heal()
    assert not any((tmp_path / n / netfault.RULES_FILE).exists() for n in names)
