from __future__ import annotations

import re
import subprocess
import sys
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
        ("[[node]]\nid=0\nname='a'\naddresses=['h:1']\n", "id = 0: must be an integer from 1"),
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


NODES = """
[[node]]
id = 1
name = "alpha"
addresses = ["127.0.0.11:5405"]
"""


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ("[timing]", 'heartbeat_interval = "fast"',
         'line 3: [timing] heartbeat_interval = "fast": must be a number of seconds from 0.01'),
        ("[timing]", "heartbeat_interval = 0",
         "line 3: [timing] heartbeat_interval = 0: must be a number of seconds from 0.01 to 60"),
        ("[timing]", "heartbeat_interval = -1.0", "heartbeat_interval = -1.0: must be"),
        ("[timing]", "dead_time = inf", "line 3: [timing] dead_time = inf: must be a number"),
        ("[timing]", "suspect_time = nan", "line 3: [timing] suspect_time = nan: must be"),
        ("[timing]", "dead_time = -inf", "dead_time = -inf: must be"),
        ("[timing]", "cib_timeout = 0", "cib_timeout = 0: must be a number of seconds above 0"),
        ("[timing]", "nice = 1.5", "nice = 1.5: must be an integer from -20 to 19"),
        ("[timing]", "nice = true", "nice = true: must be an integer"),
        ("[timing]", "loop_grace = 1e308", "loop_grace = 1e+308: must be"),
        ("[timing]", "max_clock_offset = 0", "max_clock_offset = 0: must be"),
        ("[quorum]", 'two_node = "yes"',
         'line 3: [quorum] two_node = "yes": must be true or false (a TOML boolean'),
        ("[quorum]", "wait_for_all = 1", "wait_for_all = 1: must be true or false"),
        ("[quorum]", "expected_votes = -1", "expected_votes = -1: must be an integer from 0"),
        ("[quorum]", "last_man_standing_window = nan", "last_man_standing_window = nan"),
        ("[cluster]", 'encrypt = "false"',
         'line 3: [cluster] encrypt = "false": must be true or false'),
        ("[cluster]", "name = 7", "[cluster] name = 7: must be a non-empty string"),
        ("[cluster]", 'admin_group = "a b"', 'admin_group = "a b": must be a group name'),
        ("[timings]", "dead_time = 3.0", "line 2: [timings]: unknown table"),
        ("[timing]", "dead_tme = 3.0", "line 3: [timing] dead_tme: unknown option"),
    ],
)
def test_every_field_is_checked_for_type_and_range(
    tmp_path: Path, table: str, line: str, message: str
) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(f"\n{table}\n{line}\n{NODES}")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith("cluster.toml line ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ('id = 4294967296\nname = "b"\naddresses = ["h:2"]', "id = 4294967296: must be an"
                                                             " integer from 1 to 4294967295"),
        ('id = 2\nname = "../etc"\naddresses = ["h:2"]', 'name = "../etc": must be a node name'),
        ('id = 2\nname = "b"\naddresses = ["h:99999"]', "the port must be from 1 to 65535"),
        ('id = 2\nname = "b"\naddresses = ["127.0.0.11:5405"]', "127.0.0.11:5405 is used twice"),
        ('id = 2\nname = "alpha"\naddresses = ["h:2"]', "node names are not unique"),
        ('id = 2\nname = "b"\naddresses = "h:2"', "must be a list of one to eight"),
        ('id = 2\nname = "b"\nvotes = true\naddresses = ["h:2"]', "votes = true: must be an"),
        ('id = 2\naddresses = ["h:2"]', "[[node]] #2: has no name"),
    ],
)
def test_node_fields_are_checked(tmp_path: Path, node: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        parse_config(f"{NODES}\n[[node]]\n{node}\n", tmp_path)
    assert "line " in str(info.value)


def test_line_of_the_second_node(tmp_path: Path) -> None:
    text = f"{NODES}\n[[node]]\nid = 2\nname = \"b\"\nvotes = -3\naddresses = [\"h:2\"]\n"
    with pytest.raises(ConfigError, match=r"cluster file line 10: \[\[node\]\] #2 votes = -3"):
        parse_config(text, tmp_path)


def test_a_bad_cluster_file_stops_the_daemon_with_a_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(f'[timing]\nheartbeat_interval = "fast"\n{NODES}')
    done = subprocess.run([sys.executable, "-m", "defib.cli.main", "daemon", "--config",
                           str(path), "--node", "alpha", "--no-controller"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert ('cluster.toml line 2: [timing] heartbeat_interval = "fast": must be a number of'
            ' seconds from 0.01 to 60') in done.stderr
