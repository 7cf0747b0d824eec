"""Sandbox operations over a command environment (the running cluster or a CIB file).

``commit`` is the safe ``crm shadow commit``: the sandbox's configuration replaces the live
one only if the live configuration is still the one the sandbox was copied from. That is
checked twice: here (to explain a refusal with a three-way diff), and atomically by the
writer itself, since the write names the version it is based on and the DC (or the file
environment) refuses a stale one with ``CibConflictError``. The status section is never
written: it is the cluster's (injected events in a sandbox only ever feed simulations).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defib.commands.env import CommandEnv, open_env
from defib.errors import CibConflictError
from defib.sandbox import store
from defib.sandbox.diff import ThreeWay, three_way, two_way
from defib.sandbox.store import Sandbox, Source


def env_for(source: Source) -> CommandEnv:
    if source.kind == "file":
        return open_env(file=source.where)
    return open_env(directory=source.where)


def copy_source(env: CommandEnv) -> str:
    """The CIB to copy: on a live cluster, as the scheduler sees it (quorum, DC)."""
    xml = env.read()
    return env.scheduler_input(xml) if env.live else xml


def new(name: str, source: Source, replace: bool = False) -> Sandbox:
    return store.create(name, copy_source(env_for(source)), source, replace)


def _config_version(xml: str) -> tuple[int, int]:
    admin_epoch, epoch, _ = store.version_of(xml)
    return admin_epoch, epoch


def with_configuration(target_xml: str, source_xml: str) -> str:
    """``target_xml`` with its ``configuration`` replaced by ``source_xml``'s."""
    target, source = ET.fromstring(target_xml), ET.fromstring(source_xml)
    old, conf = target.find("configuration"), source.find("configuration")
    if conf is None:
        conf = ET.Element("configuration")
    if old is None:
        target.insert(0, conf)
    else:
        target.insert(list(target).index(old), conf)
        target.remove(old)
    return ET.tostring(target, encoding="unicode")


@dataclass
class CommitPlan:
    """What a commit would do, read before doing it."""

    box: Sandbox
    live_xml: str
    after_xml: str  # the live CIB with the sandbox's configuration
    changes: str  # crmsh-syntax diff, live -> after
    stale: ThreeWay | None  # the live configuration changed since the copy: why refused

    @property
    def base(self) -> tuple[int, int]:
        return self.box.base_version[0], self.box.base_version[1]


def plan_commit(box: Sandbox, env: CommandEnv | None = None) -> CommitPlan:
    env = env or env_for(box.source)
    live_xml = env.read()
    mine = box.read()
    after = with_configuration(live_xml, mine)
    changes = two_way(live_xml, after, "configuration now", "configuration after commit")
    stale = None
    if _config_version(live_xml) != (box.base_version[0], box.base_version[1]):
        stale = three_way(box.read_base(), mine, live_xml)
    return CommitPlan(box, live_xml, after, changes, stale)


def commit(plan: CommitPlan, env: CommandEnv | None = None) -> Sandbox:
    """Write the sandbox's configuration, conditional on the version it was copied at; the
    sandbox then holds (and is based on) the CIB as committed."""
    if plan.stale is not None:
        raise CibConflictError(f"the configuration of {plan.box.source.describe()} changed "
                               f"since sandbox {plan.box.name} was copied")
    env = env or env_for(plan.box.source)
    conf = ET.fromstring(plan.after_xml).find("configuration")
    assert conf is not None  # with_configuration always gives one
    env.write_section("configuration", ET.tostring(conf, encoding="unicode"), base=plan.base)
    return plan.box.rebase(copy_source(env))


def changed(box: Sandbox) -> str:
    """What the sandbox changes, crmsh-syntax diff from the copy."""
    return two_way(box.read_base(), box.read(), f"{box.name} as copied", f"{box.name} now")
