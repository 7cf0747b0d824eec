"""``cib import`` / ``cib export``: Pacemaker CIB XML in and out of an environment.

An import is checked as it stands (well-formed, Pacemaker's schema, defib's typed checks)
before anything is written; ``prepare_import`` says what the CIB would become, so that a
caller can judge the danger (``defib.commands.danger``) and ask before ``commit_import``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defib.commands.env import CommandEnv
from defib.commands.report import Report, errors, info
from defib.commands.result import Result
from defib.errors import ClusterError


@dataclass(frozen=True)
class Import:
    reports: tuple[Report, ...]
    xml: str = ""  # the CIB to import, as read (counters defaulted)
    before: str = ""  # the environment's CIB now
    after: str = ""  # what it will hold: the imported configuration over its status

    @property
    def ok(self) -> bool:
        return not errors(self.reports)


def prepare_import(env: CommandEnv, text: str, source: str | None = None) -> Import:
    from defib.configure.cibdoc import parse_cib
    from defib.configure.validate import import_problems

    problems = tuple(import_problems(text, source))
    if errors(problems):
        return Import(problems)
    root = parse_cib(text)
    for name in ("admin_epoch", "epoch", "num_updates"):
        root.set(name, root.get(name, "0"))
    before = env.read()
    after = parse_cib(before)
    conf, new_conf = after.find("configuration"), root.find("configuration")
    if conf is not None and new_conf is not None:
        after.insert(list(after).index(conf), new_conf)
        after.remove(conf)
    return Import(problems, ET.tostring(root, encoding="unicode"), before,
                  ET.tostring(after, encoding="unicode"))


def commit_import(env: CommandEnv, prepared: Import) -> Result:
    if not prepared.ok:
        return Result(prepared.reports)
    env.import_cib(prepared.xml)
    return Result((*prepared.reports,
                   info("cib-imported", "configuration replaced by the imported CIB")),
                  changed=True)


def import_cib(env: CommandEnv, text: str, source: str | None = None) -> Result:
    """Check and import without asking (library callers judge dangers themselves)."""
    return commit_import(env, prepare_import(env, text, source))


def export_cib(env: CommandEnv) -> Result:
    """The CIB as Pacemaker 2.1.5 reads it (a feature set it knows; on a running cluster,
    quorum and DC as the cluster has them, so that a simulation of it decides alike)."""
    from defib.configure.cibdoc import for_pacemaker, parse_cib
    from defib.configure.commands import to_xml

    text = env.read()
    if env.live:
        try:
            text = env.scheduler_input(text)
        except ClusterError:
            pass  # no DC yet: the CIB as it is
    return Result(output=to_xml(for_pacemaker(parse_cib(text))))
