"""ACL permission specifications: ``xpath:``, ``ref:``, ``type:``, ``attr:`` and crmsh shortcuts.

Shortcuts (``meta:rsc:attr``, ``property``, ``status`` ...) are written to the CIB as XPath and
recognised again when rendering, so ``show`` gives back the short form.
"""

from __future__ import annotations

import re

KINDS = ("read", "write", "deny")

# shortcut -> XPath templates for 0, 1, 2 arguments (None: that many arguments not allowed).
_SHORTCUTS: dict[str, tuple[str | None, str | None, str | None]] = {
    "status": ("/cib/status", None, None),
    "cib": ("/cib", None, None),
    "node": ("//nodes/node", "//nodes/node[@uname='{0}']", None),
    "nodeattr": ("//nodes/node/instance_attributes",
                 "//nodes/node/instance_attributes/nvpair[@name='{0}']", None),
    "nodeutil": ("//nodes/node/utilization", "//nodes/node[@uname='{0}']/utilization", None),
    "property": ("//crm_config/cluster_property_set",
                 "//crm_config/cluster_property_set/nvpair[@name='{0}']", None),
    "meta": (None, "//primitive[@id='{0}']/meta_attributes",
             "//primitive[@id='{0}']/meta_attributes/nvpair[@name='{1}']"),
    "params": (None, "//primitive[@id='{0}']/instance_attributes",
               "//primitive[@id='{0}']/instance_attributes/nvpair[@name='{1}']"),
    "utilization": (None, "//primitive[@id='{0}']/utilization", None),
    "location": (None, "//constraints/rsc_location[@rsc='{0}']", None),
}
SPEC_WORDS = ("xpath", "ref", "type", "tag", "attr", "attribute", "description") + tuple(_SHORTCUTS)


def spec_to_attrs(spec: str) -> list[tuple[str, str]]:
    """One permission specification token -> acl_permission attributes."""
    word, sep, rest = spec.partition(":")
    if word == "xpath" and sep:
        return [("xpath", rest)]
    if word == "ref" and rest:
        return [("reference", rest)]
    if word in ("type", "tag") and rest:
        return [("object-type", rest)]
    if word in ("attr", "attribute") and rest:
        return [("attribute", rest)]
    if word == "description" or spec.startswith("description="):
        return [("description", spec.split("=", 1)[-1] if "=" in spec else rest)]
    if word in _SHORTCUTS:
        args = rest.split(":") if rest else []
        if len(args) > 2 or _SHORTCUTS[word][len(args)] is None:
            raise ValueError(f"wrong number of arguments for ACL shortcut {word!r}")
        template = _SHORTCUTS[word][len(args)]
        assert template is not None
        return [("xpath", template.format(*args))]
    raise ValueError(f"unknown ACL specification {spec!r}")


def _pattern(template: str, nargs: int) -> re.Pattern[str]:
    escaped = re.escape(template)
    for i in range(nargs):
        escaped = escaped.replace(re.escape("{" + str(i) + "}"), r"([A-Za-z0-9_.#-]+)")
    return re.compile(escaped + "$")


def xpath_to_spec(xpath: str) -> str | None:
    """The shortcut form of an XPath, or None when there is none."""
    for word, templates in _SHORTCUTS.items():
        for nargs, template in enumerate(templates):
            if template is None:
                continue
            m = _pattern(template, nargs).match(xpath)
            if m:
                return ":".join((word,) + m.groups())
    return None
