"""The one connection from a command to a running local cluster.

A cluster directory holds ``cluster.toml`` and one control socket per node. A request goes to
the node named (``--node``) or else to the first node that answers, which is then kept for the
following requests; when it stops answering, the others are tried again. Requests that only
the DC can answer (``crm_status``'s transition and fencing state) go to the DC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defib.errors import NotConnectedError


@dataclass
class Connection:
    directory: Path
    node: str | None = None
    timeout: float = 10.0
    # The user the requests are made for (Pacemaker's CIB_user): the daemon applies that
    # user's ACLs when the caller is an administrator; None: the caller's own rights.
    user: str | None = None
    _answering: str | None = field(default=None, repr=False)

    def nodes(self, avoid: str | None = None) -> list[str]:
        """The node names to try, the one that answered last first (``avoid`` last: the
        node a request is about, when another can pass it on, as for its fencing)."""
        if self.node:
            return [self.node]
        from defib.cluster.config import load_config
        from defib.cluster.local import CONFIG_NAME

        path = self.directory / CONFIG_NAME
        if not path.is_file():
            raise NotConnectedError(f"no cluster in {self.directory} ({path} not found); "
                                    "give --dir DIR or --file CIB", str(self.directory))
        names = [n.name for n in load_config(path).nodes]
        if self._answering in names:
            names.remove(self._answering)
            names.insert(0, self._answering)
        if avoid in names:
            names.remove(avoid)
            names.append(avoid)
        return names

    def request(self, op: str, avoid: str | None = None, **fields: Any) -> dict[str, Any]:
        """``op`` answered by the first node that answers (errors of the request itself,
        such as a refused change, are raised as they come: another node would refuse too);
        ``avoid`` is asked last."""
        from defib.cluster.client import ControlClient

        problems = []
        if self.user:
            fields = {**fields, "as_user": self.user}
        for name in self.nodes(avoid):
            try:
                answer = ControlClient.for_node(self.directory, name, self.timeout).request(
                    op, **fields)
            except NotConnectedError as exc:
                problems.append(str(exc))
                continue
            self._answering = name
            return answer
        raise NotConnectedError(f"no node of {self.directory} answers: " + "; ".join(problems),
                                str(self.directory))

    def request_node(self, node: str, op: str, **fields: Any) -> dict[str, Any]:
        """``op`` answered by ``node`` itself."""
        from defib.cluster.client import ControlClient

        if self.user:
            fields = {**fields, "as_user": self.user}
        return ControlClient.for_node(self.directory, node, self.timeout).request(op, **fields)

    def request_dc(self, op: str, **fields: Any) -> dict[str, Any]:
        """``op`` answered by the DC (asked of any node first, to learn which is the DC)."""
        answer = self.request(op, **fields)
        dc = answer.get("dc")
        if dc and dc != answer.get("node"):
            return self.request_node(str(dc), op, **fields)
        return answer

    def status(self) -> dict[str, Any]:
        """The membership as the answering node sees it (``defib status``'s header)."""
        return self.request("status")
