"""Sandboxes: named private copies of a CIB, to change and simulate before committing.

A sandbox is a directory under the user's state (``$XDG_STATE_HOME/defib/sandboxes/NAME``,
else ``~/.local/state/defib/sandboxes/NAME``; ``$DEFIB_SANDBOX_DIR`` overrides the parent),
mode 0700, holding three files, each 0600 (a CIB may hold passwords in resource parameters):

* ``cib.xml``: the working copy every configure, resource and node command edits (it is an
  ordinary CIB file: ``--sandbox NAME`` is ``--file`` on it);
* ``base.xml``: the CIB as it was copied, the common ancestor of a three-way diff;
* ``sandbox.json``: where it came from (the cluster's directory or a CIB file), and the
  version ``(admin_epoch, epoch, num_updates)`` the copy was taken at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from defib.cluster.private import private_dir, write_private
from defib.errors import CommandError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WORKING, BASE, META = "cib.xml", "base.xml", "sandbox.json"


def sandboxes_dir() -> Path:
    override = os.environ.get("DEFIB_SANDBOX_DIR")
    if override:
        return Path(override)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "defib" / "sandboxes"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise CommandError(f"bad sandbox name {name!r}: letters, digits, '.', '_' and '-' "
                           "(up to 64, not starting with a punctuation mark)", name)
    return name


def version_of(xml: str | bytes) -> tuple[int, int, int]:
    root = ET.fromstring(xml)
    return _int(root.get("admin_epoch")), _int(root.get("epoch")), _int(root.get("num_updates"))


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Source:
    """Where a sandbox's CIB came from, and goes back to on commit."""

    kind: str  # "live" (a running cluster's directory) or "file" (a CIB file)
    where: str  # the directory or the file, absolute

    def describe(self) -> str:
        return (f"the cluster in {self.where}" if self.kind == "live"
                else f"the CIB file {self.where}")


@dataclass(frozen=True)
class Sandbox:
    name: str
    directory: Path
    source: Source
    base_version: tuple[int, int, int]  # (admin_epoch, epoch, num_updates) when copied
    created: str  # ISO 8601, UTC
    user: str

    @property
    def path(self) -> Path:
        """The working CIB file."""
        return self.directory / WORKING

    @property
    def base_path(self) -> Path:
        return self.directory / BASE

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def read_base(self) -> str:
        return self.base_path.read_text(encoding="utf-8")

    def write(self, xml: str) -> None:
        write_private(self.path, xml)

    def rebase(self, live_xml: str) -> Sandbox:
        """After a commit: the live CIB as it now is becomes the base (and the copy)."""
        write_private(self.base_path, live_xml)
        write_private(self.path, live_xml)
        again = Sandbox(self.name, self.directory, self.source, version_of(live_xml),
                        self.created, self.user)
        again.save_meta()
        return again

    def save_meta(self) -> None:
        data = asdict(self)
        data.pop("directory")
        data["base_version"] = list(self.base_version)
        write_private(self.directory / META, json.dumps(data, indent=2) + "\n")


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def create(name: str, xml: str, source: Source, replace: bool = False) -> Sandbox:
    """A new sandbox holding ``xml`` (the CIB as copied from ``source``)."""
    check_name(name)
    directory = sandboxes_dir() / name
    if (directory / META).exists() and not replace:
        raise CommandError(f"sandbox {name} exists already (delete it first, or give --force "
                           "to copy again over it)", name)
    private_dir(directory)
    write_private(directory / BASE, xml)
    write_private(directory / WORKING, xml)
    box = Sandbox(name, directory, source, version_of(xml),
                  dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), _user())
    box.save_meta()
    return box


def load(name: str) -> Sandbox:
    check_name(name)
    directory = sandboxes_dir() / name
    try:
        data = json.loads((directory / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"no sandbox {name} (defib sandbox new {name} makes one; "
                           "defib sandbox list shows them)", name) from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"sandbox {name} is damaged ({directory / META}: {exc})",
                           name) from exc
    version = data.get("base_version") or [0, 0, 0]
    return Sandbox(name, directory, Source(**data["source"]),
                   (int(version[0]), int(version[1]), int(version[2])),
                   str(data.get("created", "")), str(data.get("user", "")))


def names() -> list[str]:
    root = sandboxes_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META).is_file())


def delete(name: str) -> None:
    box = load(name)
    shutil.rmtree(box.directory)
