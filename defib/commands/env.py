"""Where the command library reads and writes the CIB: the running cluster, a CIB file, or
memory (unit tests, trial runs). Commands only see the ``CommandEnv`` protocol; ``open_env``
builds one from what a caller knows (a CIB file path, or a cluster directory and node).

Writes go section by section (``crm_config``, ``nodes``, ``resources``, ``constraints`` ...)
so that a command never overwrites the status section the DC keeps moving, and only the
sections a command really changed are sent. Every write names the configuration version it was
made from (``base``): a write over a configuration that changed meanwhile is refused
(``CibConflictError``, atomically by the DC on a live cluster) and ``edit`` reads again and
re-applies the command.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from defib.attrd import store as attrd
from defib.commands.result import ReportedError
from defib.errors import (
    CibConflictError,
    ClusterError,
    CommandError,
    NotConnectedError,
    UnsupportedOpError,
)

if TYPE_CHECKING:
    from defib.commands.connection import Connection

T = TypeVar("T")
EDIT_RETRIES = 30
EDIT_BACKOFF_S = 0.01
APPLY_WAIT_S = 5.0
EMPTY_CIB = (
    '<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9"'
    ' crm_feature_set="3.16.1"><configuration><crm_config/><nodes/><resources/>'
    "<constraints/></configuration><status/></cib>"
)


class CommandEnv(Protocol):
    """What commands need from the world."""

    @property
    def live(self) -> bool:
        """True when a cluster acts on the CIB (``--wait`` makes sense)."""
        ...

    def read(self) -> str:
        """The whole CIB as XML text."""
        ...

    def write_section(self, section: str, xml: str, base: tuple[int, int] | None = None
                      ) -> None:
        """Replace one ``<configuration>`` child (``section`` is its tag), or the whole
        ``configuration``. With ``base`` (admin_epoch, epoch of the CIB the new text was
        made from), raise ``CibConflictError`` instead if the configuration changed since."""
        ...

    def cleanup(self, lrm_id: str, node: str | None) -> None:
        """Forget ``lrm_id``'s operation history and fail counts (on ``node`` or everywhere)."""
        ...

    def set_transient(self, node: str, name: str, value: str | None) -> None:
        """Set (``None``: delete) a transient node attribute (lifetime ``reboot``)."""
        ...

    def import_cib(self, xml: str) -> None:
        """Make ``xml``'s configuration the CIB's (a running cluster keeps its own status; a
        file or memory takes the whole document, status included)."""
        ...

    def set_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        """Set (``None``: remove) attributes of ``ticket``'s state in the status section
        (``granted``, ``standby``, ``last-granted``), as crm_ticket does."""
        ...

    def scheduler_input(self, xml: str) -> str:
        """The CIB as the DC would give it to the scheduler (quorum, DC)."""
        ...

    def fence(self, node: str, confirm: bool = False) -> str:
        """Ask the cluster to fence ``node`` (``confirm``: record it as fenced without any
        device, as ``stonith_admin --confirm``); a description of what was done."""
        ...

    def in_flight(self) -> list[str]:
        """What the cluster is executing right now (beyond what the CIB shows)."""
        ...

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


def open_env(file: str | Path | None = None, directory: str | Path | None = None,
             node: str | None = None, create: bool = False,
             user: str | None = None) -> CommandEnv:
    """The environment commands run in: the CIB file ``file`` (``create``: a missing one
    reads as an empty CIB and is written on the first change), else the running cluster in
    ``directory`` (through ``node``'s control socket, or any node's). ``user``: the commands
    run with that user's rights (ACLs), as Pacemaker's ``CIB_user``; the cluster allows this
    only to an administrator (a CIB file has no ACL enforcement, as with ``CIB_file``)."""
    if file is not None:
        return FileEnv(Path(file), create=create)
    if directory is None:
        raise NotConnectedError("no CIB: give a CIB file or a cluster directory")
    return LiveEnv(Path(directory).resolve(), node, user=user)


def epoch_of(xml: str) -> tuple[int, int]:
    root = ET.fromstring(xml)
    return int(root.get("admin_epoch", "0")), int(root.get("epoch", "0"))


def _sections(root: ET.Element) -> dict[str, str]:
    conf = root.find("configuration")
    if conf is None:
        return {}
    return {child.tag: ET.tostring(child, encoding="unicode") for child in conf}


def edit(env: CommandEnv, change: Callable[[ET.Element], T]) -> T:
    """Read the CIB, let ``change`` modify it in place, write back what changed.

    The write is conditional on the configuration read (its epoch): when another writer
    committed in between, it is refused, and the command is applied again to a fresh read
    (after a short, growing, randomised pause), so that two administrators never silently
    overwrite each other. Several changed sections go as one write of the configuration.
    """
    for attempt in range(EDIT_RETRIES):
        xml = env.read()
        root = ET.fromstring(xml)
        before = _sections(root)
        result = change(root)
        after = _sections(root)
        changed = [tag for tag, text in after.items() if before.get(tag) != text]
        if not changed:
            return result
        refuse_invalid(ET.fromstring(xml), root)
        if len(changed) == 1:
            section, text = changed[0], after[changed[0]]
        else:
            conf = root.find("configuration")
            assert conf is not None  # sections changed under it
            section, text = "configuration", ET.tostring(conf, encoding="unicode")
        try:
            env.write_section(section, text, base=epoch_of(xml))
        except CibConflictError:
            env.sleep(EDIT_BACKOFF_S * (attempt + 1) * (0.5 + random.random()))
            continue
        return result
    raise CommandError(f"the configuration keeps changing under this command (refused"
                       f" {EDIT_RETRIES} times as based on an older version); try again",
                       code="cib-conflict")


def retrying(env: CommandEnv, command: Callable[[], T], attempts: int = EDIT_RETRIES) -> T:
    """Run a read-modify-write ``command`` again, from a fresh read, while its conditional
    write is refused because another writer changed the configuration meanwhile."""
    for attempt in range(attempts):
        try:
            return command()
        except CibConflictError:
            if attempt == attempts - 1:
                raise
            # Randomised and growing, so that two writers do not collide again in step.
            env.sleep(EDIT_BACKOFF_S * (attempt + 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def refuse_invalid(before: ET.Element, after: ET.Element) -> None:
    """The checks every write passes (typed values, names, Pacemaker's schema): a command
    that would introduce a mistake changes nothing and says why."""
    from defib.configure.report import errors
    from defib.configure.validate import write_problems

    problems = errors(write_problems(before, after))
    if problems:
        raise ReportedError(problems, "refused, the configuration would not be valid: "
                            + "; ".join(p.text for p in problems))


def set_transient_status(root: ET.Element, node: str, name: str, value: str | None) -> bool:
    """What the DC's attribute writer does, for a CIB without a DC."""
    for state in root.iterfind("status/node_state"):
        if state.get("uname") == node:
            return attrd.set_attr(state, name, value)
    raise CommandError(f"node {node} has no status entry to hold transient attributes", node)


def set_ticket_status(root: ET.Element, ticket: str, attrs: dict[str, str | None]) -> bool:
    """What crm_ticket writes, for a CIB without a DC: ``status/tickets/ticket_state``."""
    from defib.controller.status import set_ticket_state

    status = root.find("status")
    if status is None:
        status = ET.SubElement(root, "status")
    tickets = status.find("tickets")
    if tickets is None:
        tickets = ET.SubElement(status, "tickets")
    return set_ticket_state(tickets, ticket, attrs)


def _history_of(root: ET.Element, lrm_id: str, node: str | None) -> dict[str, str]:
    """node -> the resource's history entry and fail counts there, as text (to compare)."""
    out = {}
    for state in root.iterfind("status/node_state"):
        uname = state.get("uname", "")
        if node is not None and uname != node:
            continue
        parts = [ET.tostring(e, encoding="unicode") for e in state.iter("lrm_resource")
                 if e.get("id") == lrm_id]
        parts += [f"{k}={v}" for k, v in sorted(attrd.get_attrs(state).items())
                  if k.startswith(("fail-count-", "last-failure-"))
                  and k.partition("-")[2].partition("-")[2].rpartition("#")[0] == lrm_id]
        out[uname] = "".join(parts)
    return out


def cleanup_status(root: ET.Element, lrm_id: str, node: str | None) -> list[str]:
    """What the DC does on cleanup, for a CIB without a DC: forget history, clear counts."""
    done = []
    status = root.find("status")
    for state in status.findall("node_state") if status is not None else []:
        if node is not None and state.get("uname") != node:
            continue
        for resources in state.iter("lrm_resources"):
            for entry in resources.findall("lrm_resource"):
                if entry.get("id") == lrm_id:
                    resources.remove(entry)
                    done.append(f"{lrm_id}@{state.get('uname')}")
        done += attrd.cleanup(state, lrm_id)
    return done


@dataclass
class MemoryEnv:
    """In-memory CIB with a fake clock; ``on_sleep`` stands in for a cluster acting."""

    xml: str = EMPTY_CIB
    clock: float = 1_700_000_000.0
    is_live: bool = True
    on_sleep: Callable[[MemoryEnv], None] | None = None
    writes: list[str] = field(default_factory=list)
    cleanups: list[tuple[str, str | None]] = field(default_factory=list)
    fenced: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.is_live

    def read(self) -> str:
        return self.xml

    def write_section(self, section: str, xml: str, base: tuple[int, int] | None = None
                      ) -> None:
        if base is not None and epoch_of(self.xml) != base:
            raise CibConflictError(f"conflict: the configuration changed since it was read"
                                   f" ({base} -> {epoch_of(self.xml)})")
        root = ET.fromstring(self.xml)
        conf = root.find("configuration")
        assert conf is not None
        parent = root if section == "configuration" else conf
        old = parent.find(section)
        new = ET.fromstring(xml)
        if old is None:
            parent.append(new)
        else:
            parent.insert(list(parent).index(old), new)
            parent.remove(old)
        root.set("epoch", str(int(root.get("epoch", "0")) + 1))
        self.xml = ET.tostring(root, encoding="unicode")
        self.writes.append(section)

    def import_cib(self, xml: str) -> None:
        self.xml = xml
        self.writes.append("cib")

    def cleanup(self, lrm_id: str, node: str | None) -> None:
        root = ET.fromstring(self.xml)
        cleanup_status(root, lrm_id, node)
        self.xml = ET.tostring(root, encoding="unicode")
        self.cleanups.append((lrm_id, node))

    def set_transient(self, node: str, name: str, value: str | None) -> None:
        root = ET.fromstring(self.xml)
        set_transient_status(root, node, name, value)
        self.xml = ET.tostring(root, encoding="unicode")

    def set_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        root = ET.fromstring(self.xml)
        set_ticket_status(root, ticket, attrs)
        self.xml = ET.tostring(root, encoding="unicode")

    def scheduler_input(self, xml: str) -> str:
        return xml

    def fence(self, node: str, confirm: bool = False) -> str:
        self.fenced.append(node)
        return f"fencing of {node} requested"

    def in_flight(self) -> list[str]:
        return list(self.busy)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock)

    def monotonic(self) -> float:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self.clock += seconds
        if self.on_sleep is not None:
            self.on_sleep(self)


@dataclass
class FileEnv:
    """A CIB XML file (``--file`` / ``$CIB_file``): edits only, nothing runs. With
    ``create``, a missing file reads as an empty CIB (``configure --file new.xml``)."""

    path: Path
    create: bool = False

    @property
    def live(self) -> bool:
        return False

    def read(self) -> str:
        if not self.path.exists():
            if self.create:
                from defib.configure.cibdoc import empty_cib

                return ET.tostring(empty_cib(), encoding="unicode")
            raise CommandError(f"CIB file {self.path} does not exist", str(self.path),
                               code="no-cib-file")
        return self.path.read_text()

    def _write(self, root: ET.Element) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tree = ET.ElementTree(root)
        ET.indent(tree)  # a file people read and diff
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cib-")
        with os.fdopen(fd, "w") as fh:
            fh.write(ET.tostring(root, encoding="unicode") + "\n")
        os.replace(tmp, self.path)

    def import_cib(self, xml: str) -> None:
        self._write(ET.fromstring(xml))

    def write_section(self, section: str, xml: str, base: tuple[int, int] | None = None
                      ) -> None:
        mem = MemoryEnv(self.read())
        mem.write_section(section, xml, base)
        self._write(ET.fromstring(mem.xml))

    def cleanup(self, lrm_id: str, node: str | None) -> None:
        root = ET.fromstring(self.read())
        if cleanup_status(root, lrm_id, node):
            root.set("num_updates", str(int(root.get("num_updates", "0")) + 1))
            self._write(root)

    def set_transient(self, node: str, name: str, value: str | None) -> None:
        root = ET.fromstring(self.read())
        if set_transient_status(root, node, name, value):
            root.set("num_updates", str(int(root.get("num_updates", "0")) + 1))
            self._write(root)

    def set_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        root = ET.fromstring(self.read())
        if set_ticket_status(root, ticket, attrs):
            root.set("num_updates", str(int(root.get("num_updates", "0")) + 1))
            self._write(root)

    def scheduler_input(self, xml: str) -> str:
        return xml

    def fence(self, node: str, confirm: bool = False) -> str:
        raise CommandError("fencing needs a running cluster, not a CIB file", node)

    def in_flight(self) -> list[str]:
        return []

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class LiveEnv:
    """The running local cluster in ``directory``, through one ``Connection`` to it."""

    directory: Path
    node: str | None = None
    timeout: float = 5.0
    user: str | None = None
    connection: Connection = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from defib.commands.connection import Connection

        self.connection = Connection(self.directory, self.node, self.timeout, self.user)

    @property
    def live(self) -> bool:
        return True

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.connection.request(op, **fields)

    def import_cib(self, xml: str) -> None:
        conf = ET.fromstring(xml).find("configuration")
        if conf is None:
            raise CommandError("the CIB to import has no <configuration>", code="cib-parse")
        self.write_section("configuration", ET.tostring(conf, encoding="unicode"))

    def read(self) -> str:
        return str(self.request("get_cib")["xml"])

    def write_section(self, section: str, xml: str, base: tuple[int, int] | None = None
                      ) -> None:
        change: dict[str, Any] = {"op": "replace_section", "section": section, "xml": xml}
        if base is not None:
            change["base"] = list(base)
        answer = self.request("cib_change", change=change)
        missing = [str(n) for n in answer.get("not_acked") or []]
        if missing:
            # Committed, but not everywhere: the truth is a failure that names who is behind.
            version = ".".join(map(str, answer.get("version") or []))
            raise CommandError(
                f"the change was committed (CIB {version}) but {', '.join(missing)} did not"
                f" acknowledge it ({'it' if len(missing) == 1 else 'they'} could not store it"
                " or left the membership; see defib status)", code="not-acknowledged")

    def _until(self, done: Callable[[ET.Element], bool]) -> None:
        """The DC applies cleanups and attributes asynchronously: wait (bounded) until the
        CIB shows it, so that a following ``--wait`` judges the new state, not the old."""
        deadline = time.monotonic() + APPLY_WAIT_S
        while time.monotonic() < deadline:
            if done(ET.fromstring(self.read())):
                return
            time.sleep(0.02)

    def cleanup(self, lrm_id: str, node: str | None) -> None:
        before = _history_of(ET.fromstring(self.read()), lrm_id, node)
        self.request("crm_cleanup", rsc=lrm_id, node=node)
        self._until(lambda root: all(
            _history_of(root, lrm_id, node).get(where) != what
            for where, what in before.items() if what))

    def set_transient(self, node: str, name: str, value: str | None) -> None:
        # The DC is the only writer of the status section: it writes the attribute.
        self.request("crm_attribute", node=node, name=name, value=value)
        self._until(lambda root: any(
            attrd.get_attrs(state).get(name) == value
            for state in root.iterfind("status/node_state") if state.get("uname") == node))

    def set_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        # The DC is the only writer of the status section: it has to write ticket states.
        try:
            self.request("crm_ticket", ticket=ticket, attrs=attrs)
        except UnsupportedOpError as exc:
            raise CommandError("this cluster's controller offers no ticket request yet "
                               "(control op crm_ticket); nothing was done", ticket,
                               code="no-controller") from exc
        def written(root: ET.Element) -> bool:
            states = [t for t in root.iterfind("status/tickets/ticket_state")
                      if t.get("id") == ticket]
            return bool(states) and all(t.get(k) == v for t in states for k, v in attrs.items())

        self._until(written)

    def scheduler_input(self, xml: str) -> str:
        from defib.controller.status import scheduler_input

        status = self.request("status")
        dc = status.get("dc")
        if not dc:
            raise ClusterError("no DC elected yet")
        return scheduler_input(xml, bool(status["quorum"]["quorate"]), str(dc["id"]))

    def fence(self, node: str, confirm: bool = False) -> str:
        try:
            # Asked of another node: the fenced one cannot answer once it is off.
            answer = self.connection.request("crm_fence", avoid=node, node=node,
                                             action="confirm" if confirm else "reboot")
        except UnsupportedOpError as exc:
            raise CommandError("this cluster's controller offers no fencing request yet "
                               "(control op crm_fence); nothing was done", node,
                               code="no-controller") from exc
        return str(answer.get("message") or f"fencing of {node} requested")

    def in_flight(self) -> list[str]:
        try:
            answer = self.connection.request_dc("crm_status")
        except UnsupportedOpError as exc:
            raise CommandError("no controller runs in this cluster (started with "
                               "--no-controller?): nothing acts on the CIB, so --wait would "
                               "never return", code="no-controller") from exc
        dc = answer.get("dc")
        count = int(answer.get("in_flight", 0) or 0)
        return [f"{count} operations in flight (DC {dc})"] if count else []

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
