"""The running cluster as a ``CibStore``: read the CIB from a node's control socket and
replace only its ``<configuration>`` (the status section keeps moving underneath).

A write is refused when the configuration changed since it was read (epoch compare), so two
administrators cannot silently overwrite each other.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from defib.errors import CommandError, NotConnectedError

if TYPE_CHECKING:
    from defib.cluster.client import ControlClient


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

    def replace(self, xml: str) -> None:
        client = self._client()
        if self._read_epoch is not None:
            now = self._epoch(str(client.get_cib()["xml"]))
            if now != self._read_epoch:
                raise CommandError("the configuration changed since it was read "
                                   f"(epoch {self._read_epoch} -> {now}); try again")
        conf = ET.fromstring(xml).find("configuration")
        if conf is None:
            raise CommandError("no <configuration> to write")
        client.replace_section("configuration", ET.tostring(conf, encoding="unicode"))
        self._read_epoch = None
