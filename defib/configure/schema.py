"""Validation against Pacemaker's own RELAX NG schemas, where they are installed
(Debian ``pacemaker-common``: ``/usr/share/pacemaker/pacemaker-X.Y.rng``).

Without the schemas (or without lxml) there is nothing to check against: ``available()`` says
so and ``validate`` returns no problem, so defib works the same, with its own checks only.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from defib.configure.report import Location, Problem

SCHEMA_DIR = Path(os.environ.get("DEFIB_PACEMAKER_SCHEMAS", "/usr/share/pacemaker"))
_VERSION = re.compile(r"^pacemaker-(\d+)\.(\d+)$")


def _installed() -> dict[str, Path]:
    if not SCHEMA_DIR.is_dir():
        return {}
    return {p.stem: p for p in SCHEMA_DIR.glob("pacemaker-*.rng") if _VERSION.match(p.stem)}


def available() -> bool:
    try:
        import lxml.etree  # noqa: F401
    except ImportError:
        return False
    return bool(_installed())


def _newest(names: list[str]) -> str:
    def version(name: str) -> tuple[int, int]:
        m = _VERSION.match(name)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    return max(names, key=version)


@functools.lru_cache(maxsize=8)
def _schema(path: Path) -> Any:
    from lxml import etree

    return etree.RelaxNG(etree.parse(str(path)))


def validate(xml: str | bytes, source: str | None = None) -> list[Problem]:
    """Problems of a whole CIB against the schema its ``validate-with`` names (the newest
    installed one when that is absent). ``source`` names a file: then line numbers are the
    file's and each problem is located there."""
    if not available():
        return []
    from lxml import etree

    try:
        doc = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        return [Problem("not-xml", f"not well-formed XML: {exc.msg}",
                        Location(line) if line and source else None)]
    # The CIB manager fills these in on import: their absence is no mistake of the user's.
    for name in ("admin_epoch", "epoch", "num_updates"):
        if doc.get(name) is None:
            doc.set(name, "0")
    installed = _installed()
    wanted = doc.get("validate-with") or ""
    if wanted == "none":
        return []
    if wanted and wanted not in installed:
        return [Problem("unknown-schema", f"validate-with={wanted!r} is not a schema this "
                        f"Pacemaker knows (installed: {_newest(list(installed))} and older)",
                        suggestion=_newest(list(installed)))]
    schema = _schema(installed[wanted or _newest(list(installed))])
    if schema.validate(doc):
        return []
    problems = []
    seen = set()
    for err in schema.error_log:
        # libxml2 reports a mistake again at every enclosing element: the first (innermost)
        # message of an element says it best.
        if err.path in seen:
            continue
        seen.add(err.path)
        where = _element_path(doc, err.path) if err.path else ""
        message = f"{where}: {err.message}" if where else err.message
        problems.append(Problem("schema", f"not valid against {wanted or 'the schema'}: "
                                f"{message}", Location(err.line) if source else None))
    return problems


def _element_path(doc: Any, path: str) -> str:
    """``/cib/configuration/resources/clone[1]`` -> ``<clone id="c">`` where ids help."""
    try:
        found = doc.getroottree().xpath(path)
    except Exception:  # noqa: BLE001 - a path lxml itself gave: at worst, show it raw
        return path
    if not found:
        return path
    el = found[0]
    ident = el.get("id")
    return f"<{el.tag} id={ident!r}>" if ident else path
