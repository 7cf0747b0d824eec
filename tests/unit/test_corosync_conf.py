"""corosync.conf from the cluster file, and Corosync's node list taking over (no Corosync
needed: the node list is given as cmap would return it)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from defib.cluster.config import ClusterConfig, NodeConfig, QuorumOptions
from defib.cluster.corosync.conf import TotemOptions, render, with_corosync_nodes
from defib.cluster.corosync.layer import decode, encode
from defib.errors import ClusterError

NODES = (NodeConfig(1, "a", (("192.0.2.1", 5405), ("198.51.100.1", 5406))),
         NodeConfig(2, "b", (("192.0.2.2", 5405), ("198.51.100.2", 5406)), votes=2))


def config(**quorum: object) -> ClusterConfig:
    return ClusterConfig(name="web", nodes=NODES, key_file=Path("/k"), state_dir=Path("/s"),
                         quorum=QuorumOptions(**quorum), stack="corosync")  # type: ignore[arg-type]


def test_render_has_nodes_links_votes_and_votequorum_options() -> None:
    text = render(config(two_node=True, wait_for_all=False, last_man_standing=True,
                         last_man_standing_window=5.0),
                  TotemOptions(token_ms=1500, token_coefficient_ms=0, crypto=False,
                               knet_ping_interval_ms=100, knet_ping_timeout_ms=400))
    for line in ("cluster_name: web", "token: 1500", "token_coefficient: 0",
                 "crypto_cipher: none", "two_node: 1", "wait_for_all: 0",
                 "last_man_standing: 1", "last_man_standing_window: 5000",
                 "quorum_votes: 2", "ring1_addr: 198.51.100.2", "linknumber: 1",
                 "knet_ping_timeout: 400"):
        assert line in text, line
    assert text.count("node {") == 2 and text.count("{") == text.count("}")


def test_corosync_node_list_wins_over_the_file_and_names_must_agree() -> None:
    log = logging.getLogger("test")
    found = [NodeConfig(1, "a", (("10.0.0.1", 5405),), votes=3),
             NodeConfig(3, "c", (("10.0.0.3", 5405),))]
    cfg = with_corosync_nodes(config(), found, log)
    assert [(n.id, n.name, n.votes) for n in cfg.nodes] == [(1, "a", 3), (3, "c", 1)]
    with pytest.raises(ClusterError, match="'x' in corosync.conf but 'a'"):
        with_corosync_nodes(config(), [NodeConfig(1, "x", (("10.0.0.1", 5405),))], log)
    with pytest.raises(ClusterError, match="no nodelist"):
        with_corosync_nodes(config(), [], log)


def test_messages_round_trip_small_and_compressed() -> None:
    small = {"t": "cib-ack", "r": "1:2:3", "v": [0, 1, 2]}
    big = {"t": "cib-full", "x": "<cib>" + "<a/>" * 5000 + "</cib>"}
    assert encode(small)[:1] == b"J" and decode(encode(small)) == small
    assert encode(big)[:1] == b"Z" and decode(encode(big)) == big
    assert decode(b"Xjunk") is None and decode(b"Z\x00\x01") is None


def test_differences_name_the_odd_nodes_and_unreadable_files() -> None:
    from defib.cluster.agreement import differences

    same = {"cluster.toml": "aa", "authkey": "kk"}
    assert differences({"n1": same, "n2": dict(same), "n3": dict(same)}) == {}
    odd = {"n1": same, "n2": dict(same), "n3": {"cluster.toml": "bb", "authkey": "kk"}}
    assert differences(odd) == {"cluster.toml": ["n3"]}
    broken = {"n1": {"authkey": "unreadable: Permission denied"},
              "n2": {"authkey": "unreadable: Permission denied"}}
    assert differences(broken) == {"authkey": ["n1", "n2"]}
