"""The lab audit's join check: a member not yet joined on the DC means "not settled"."""

from __future__ import annotations

from typing import Any, cast

from defib.lab.audit import Auditor
from defib.lab.cluster import LabCluster


class Lab:
    def __init__(self, up: list[str]) -> None:
        self._up = up

    def up(self) -> list[str]:
        return self._up


def cib(*states: tuple[str, str, str, str]) -> str:
    rows = "".join(f'<node_state id="{i}" uname="{n}" in_ccm="{c}" crmd="{d}" join="{j}"/>'
                   for i, (n, c, d, j) in enumerate(states, 1))
    return f"<cib><configuration/><status>{rows}</status></cib>"


def auditor(up: list[str]) -> Any:
    return Auditor(cast(LabCluster, Lab(up)))


def test_every_member_joined_is_settled_as_far_as_joins_go() -> None:
    xml = cib(("node1", "true", "online", "member"), ("node2", "true", "online", "member"))
    assert auditor(["node1", "node2"])._not_joined(xml) == []


def test_a_restarted_member_that_has_not_announced_its_history_is_not_joined() -> None:
    xml = cib(("node1", "true", "online", "member"), ("node2", "true", "online", "pending"),
              ("node3", "false", "offline", "member"))
    assert auditor(["node1", "node2", "node3"])._not_joined(xml) == ["node2", "node3"]
    # A node the lab stopped is not waited for; one without any entry is.
    assert auditor(["node1", "node4"])._not_joined(xml) == ["node4"]
