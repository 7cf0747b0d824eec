from __future__ import annotations

from pathlib import Path

import pytest

from defib.cluster.config import load_config, parse_config, render_config
from defib.errors import ConfigError

GOOD = """
[cluster]
name = "prod"
key_file = "keys/authkey"
encrypt = true

[timing]
heartbeat_interval = 0.2
dead_time = 3.0

[quorum]
two_node = true

[[node]]
id = 2
name = "beta"
addresses = ["127.0.0.12:5405", "127.0.1.12:5406"]

[[node]]
id = 1
name = "alpha"
votes = 2
addresses = ["127.0.0.11:5405", "127.0.1.11:5406"]
"""


def test_parse_good_file(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, tmp_path)
    assert cfg.name == "prod" and cfg.encrypt
    assert [n.name for n in cfg.nodes] == ["alpha", "beta"]  # sorted by id
    assert cfg.node_by_name("alpha").votes == 2
    assert cfg.node_by_name("beta").addresses[1] == ("127.0.1.12", 5406)
    assert cfg.key_file == tmp_path / "keys/authkey"
    assert cfg.timing.heartbeat_interval == 0.2 and cfg.timing.suspect_time == 0.25
    assert cfg.quorum.two_node and cfg.quorum.effective_wait_for_all
    assert cfg.link_count == 2


def test_render_round_trip(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, tmp_path)
    path = tmp_path / "cluster.toml"
    path.write_text(render_config(cfg))
    again = load_config(path)
    assert again.nodes == cfg.nodes and again.timing == cfg.timing
    assert again.quorum == cfg.quorum and again.key_file == cfg.key_file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cluster]\nname='x'\n", "no \\[\\[node\\]\\]"),
        ("[[node]]\nid=1\nname='a'\naddresses=['127.0.0.1']\n", "HOST:PORT"),
        ("[[node]]\nid=1\nname='a'\naddresses=['h:1']\n[[node]]\nid=1\nname='b'\n"
         "addresses=['h:2']\n", "ids are not unique"),
        ("[[node]]\nid=1\nname='a'\naddresses=['h:1','h:2']\n[[node]]\nid=2\nname='b'\n"
         "addresses=['h:3']\n", "same number of link"),
        ("[timing]\nbogus=1\n[[node]]\nid=1\nname='a'\naddresses=['h:1']\n", "unknown option"),
        ("[timing]\ndead_time=0.1\n[[node]]\nid=1\nname='a'\naddresses=['h:1']\n",
         "suspect_time <= dead_time"),
        ("[[node]]\nid=0\nname='a'\naddresses=['h:1']\n", "positive integer"),
        ("not toml [", "cluster file"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text, tmp_path)


def test_unknown_node_name(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, tmp_path)
    with pytest.raises(ConfigError) as info:
        cfg.node_by_name("gamma")
    assert info.value.ident == "gamma"
