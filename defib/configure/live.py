"""The running cluster as a ``CibStore``: read the CIB from a node's control socket and
replace only its ``<configuration>`` (the status section keeps moving underneath).

The write names the configuration it was made from (admin_epoch, epoch of the first read);
the DC refuses it (``CibConflictError``) when the configuration changed since, atomically in
its ordered stream, so two administrators cannot silently overwrite each other. The caller
reads again and re-applies (``defib configure`` does so for non-interactive commands).
"""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from defib.errors import CibConflictError, CommandError, NotConnectedError

if TYPE_CHECKING:
    from defib.cluster.client import ControlClient

T = TypeVar("T")
CONFLICT_RETRIES = 20


def retry_on_conflict(command: Callable[[], T], attempts: int = CONFLICT_RETRIES) -> T:
    """Run a read-modify-write ``command`` again, from a fresh read, while the DC refuses
    its write as based on a configuration that another writer changed meanwhile; after
    ``attempts`` the last ``CibConflictError`` is raised (the caller reports the conflict)."""
    for attempt in range(attempts):
        try:
            return command()
        except CibConflictError:
            if attempt == attempts - 1:
                raise
            # Randomised and growing, so that two writers do not collide again in step.
            time.sleep(0.02 * (attempt + 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")


@dataclass
class LiveCib:
    directory: Path
    node: str | None = None
    timeout: float = 10.0
    _read_epoch: tuple[int, int] | None = field(default=None, repr=False)

    def _client(self) -> ControlClient:
        from defib.cluster.client import ControlClient
        from defib.cluster.config import load_config
        from defib.cluster.local import CONFIG_NAME

        if self.node:
            return ControlClient.for_node(self.directory, self.node, self.timeout)
        names = [n.name for n in load_config(self.directory / CONFIG_NAME).nodes]
        problems = []
        for name in names:
            client = ControlClient.for_node(self.directory, name, self.timeout)
            try:
                client.status()
                return client
            except NotConnectedError as exc:
                problems.append(str(exc))
        raise NotConnectedError(f"no node of {self.directory} answers: " + "; ".join(problems))

    @staticmethod
    def _epoch(xml: str) -> tuple[int, int]:
        root = ET.fromstring(xml)
        return int(root.get("admin_epoch", "0")), int(root.get("epoch", "0"))

    def read(self) -> str:
        xml = str(self._client().get_cib()["xml"])
        if self._read_epoch is None:
            # The first read counts: ``edit`` reads, waits for the editor, then reads again.
            self._read_epoch = self._epoch(xml)
        return xml

    def scheduler_input(self, xml: str) -> str:
        """``xml`` with quorum and DC as the cluster knows them now (what the DC gives the
        scheduler), so that a simulation of an export decides what the cluster decided."""
        from defib.controller.status import scheduler_input

        status = self._client().status()
        dc = status.get("dc") or {}
        quorate = bool((status.get("quorum") or {}).get("quorate"))
        return scheduler_input(xml, quorate, str(dc["id"]) if dc.get("id") else None)

    def replace(self, xml: str) -> None:
        conf = ET.fromstring(xml).find("configuration")
        if conf is None:
            raise CommandError("no <configuration> to write")
        base, self._read_epoch = self._read_epoch, None  # the next command reads afresh
        self._client().replace_section("configuration", ET.tostring(conf, encoding="unicode"),
                                       base=base)
