"""Id allocation the way crmsh does it: a derived base id, made unique with -0, -1, ..."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class IdAllocator:
    """Hands out ids unique within one CIB document."""

    def __init__(self, used: set[str] | None = None) -> None:
        self._used: set[str] = set(used or ())

    @classmethod
    def for_tree(cls, root: ET.Element | None) -> IdAllocator:
        used: set[str] = set()
        if root is not None:
            nodes = root.find("nodes")
            skip = set(nodes) if nodes is not None else set()
            used = {el.get("id", "") for el in root.iter() if el.get("id") and el not in skip}
        return cls(used)

    def take(self, ident: str) -> str:
        self._used.add(ident)
        return ident

    def release(self, ident: str) -> None:
        self._used.discard(ident)

    def used(self, ident: str) -> bool:
        return ident in self._used

    def new(self, base: str) -> str:
        base = _UNSAFE.sub("_", base)
        if base and base[0].isdigit():
            base = "_" + base
        if base not in self._used:
            return self.take(base)
        n = 0
        while f"{base}-{n}" in self._used:
            n += 1
        return self.take(f"{base}-{n}")
