"""The editing forms' answers as crmsh statements.

A form never writes XML of its own: what the user filled in becomes configure text, which
goes through the same parser and validation as ``defib configure`` (so a form and the text
editor can never disagree, and the reports are the same). Each builder takes the form as
JSON and returns one statement; values are quoted here, names are checked to be names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from defib.errors import CommandError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:#@-]*$")
_SCORE = re.compile(r"^[+-]?(INFINITY|inf|\d+)$", re.I)
# Words crmsh reads inside resource lists: sets, roles, actions.
_SET_WORD = re.compile(r"^(\(|\)|\[|\]|[A-Za-z0-9_][A-Za-z0-9_.:#@-]*(:[A-Za-z]+)?|"
                       r"[a-z-]+=[A-Za-z0-9_.:-]+)$")


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise CommandError(f"{what} must be a name (letters, digits, '_', '.', '-'), not "
                           f"{value!r}", str(value), code="bad-name")
    return value


def quote(value: Any) -> str:
    """A value as configure text reads it back unchanged."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise CommandError("values cannot span lines", code="bad-value")
    if text and re.fullmatch(r"[A-Za-z0-9_.:/@%+,-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pairs(values: Any, what: str) -> list[str]:
    if values in (None, ""):
        return []
    if not isinstance(values, dict):
        raise CommandError(f"{what} must be an object of name: value", code="bad-request")
    return [f"{_name(k, what)}={quote(v)}" for k, v in values.items()
            if v is not None and str(v) != ""]


def _names(values: Any, what: str) -> list[str]:
    if isinstance(values, str):
        values = values.split()
    if not isinstance(values, list) or not values:
        raise CommandError(f"{what}: give at least one", code="bad-request")
    return [_name(v, what) for v in values]


def _set_words(values: Any, what: str) -> list[str]:
    """Resources of a constraint, sets included: ``a b`` or ``( a b ) c:Promoted``."""
    words = values.split() if isinstance(values, str) else values
    if not isinstance(words, list) or not words:
        raise CommandError(f"{what}: give at least one resource", code="bad-request")
    for word in words:
        if not isinstance(word, str) or not _SET_WORD.match(word):
            raise CommandError(f"{what}: {word!r} is not a resource, a role or a set "
                               "bracket", str(word), code="bad-name")
    return list(words)


def _score(value: Any, default: str = "INFINITY") -> str:
    text = str(value if value not in (None, "") else default)
    if not _SCORE.match(text):
        raise CommandError(f"a score is an integer, INFINITY or -INFINITY, not {text!r}",
                           text, code="bad-score")
    return text


def _sections(form: dict[str, Any]) -> list[str]:
    out = []
    for key, word in (("params", "params"), ("meta", "meta"),
                      ("utilization", "utilization")):
        pairs = _pairs(form.get(key), key)
        if pairs:
            out.append(" ".join([word, *pairs]))
    return out


def primitive(form: dict[str, Any]) -> str:
    agent = form.get("agent")
    if not isinstance(agent, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]+", agent):
        raise CommandError("choose an agent (class:provider:type)", code="bad-request")
    parts = [f"primitive {_name(form.get('id'), 'the id')} {agent}", *_sections(form)]
    for op in form.get("ops") or []:
        if not isinstance(op, dict):
            raise CommandError("an operation must be an object", code="bad-request")
        attrs = {k: v for k, v in op.items() if k != "name"}
        parts.append(" ".join([f"op {_name(op.get('name'), 'an operation')}",
                               *_pairs(attrs, "operation attributes")]))
    return " \\\n\t".join(parts)


def group(form: dict[str, Any]) -> str:
    members = _names(form.get("members"), "members")
    return " \\\n\t".join([f"group {_name(form.get('id'), 'the id')} {' '.join(members)}",
                           *_sections(form)])


def clone(form: dict[str, Any]) -> str:
    form = dict(form)
    if form.get("promotable"):
        meta = dict(form.get("meta") or {})
        meta["promotable"] = "true"
        form["meta"] = meta
    head = f"clone {_name(form.get('id'), 'the id')} {_name(form.get('rsc'), 'the resource')}"
    return " \\\n\t".join([head, *_sections(form)])


def location(form: dict[str, Any]) -> str:
    head = f"location {_name(form.get('id'), 'the id')} {_name(form.get('rsc'), 'the resource')}"
    rule = form.get("rule")
    if rule:
        if not isinstance(rule, str) or "\n" in rule:
            raise CommandError("a rule is one line: SCORE: EXPRESSION", code="bad-request")
        return f"{head} rule {rule}"
    return f"{head} {_score(form.get('score'))}: {_name(form.get('node'), 'the node')}"


def colocation(form: dict[str, Any]) -> str:
    words = _set_words(form.get("resources"), "colocation")
    return (f"colocation {_name(form.get('id'), 'the id')} {_score(form.get('score'))}: "
            + " ".join(words))


def order(form: dict[str, Any]) -> str:
    kind = str(form.get("order_kind") or "Mandatory")
    if kind not in ("Mandatory", "Optional", "Serialize"):
        raise CommandError(f"an order's kind is Mandatory, Optional or Serialize, not {kind!r}",
                           kind, code="bad-request")
    words = _set_words(form.get("resources"), "order")
    tail = " symmetrical=false" if form.get("symmetrical") is False else ""
    return f"order {_name(form.get('id'), 'the id')} {kind}: {' '.join(words)}{tail}"


def ticket(form: dict[str, Any]) -> str:
    words = _set_words(form.get("resources"), "rsc_ticket")
    policy = form.get("loss_policy")
    tail = f" loss-policy={_name(policy, 'loss-policy')}" if policy else ""
    return (f"rsc_ticket {_name(form.get('id'), 'the id')} "
            f"{_name(form.get('ticket'), 'the ticket')}: {' '.join(words)}{tail}")


def tag(form: dict[str, Any]) -> str:
    members = _names(form.get("members"), "members")
    return f"tag {_name(form.get('id'), 'the id')} {' '.join(members)}"


def _nvsets(word: str) -> Callable[[dict[str, Any]], str]:
    def build(form: dict[str, Any]) -> str:
        pairs = _pairs(form.get("values"), "values")
        if not pairs:
            raise CommandError("give at least one name=value", code="bad-request")
        return " ".join([word, *pairs])

    return build


BUILDERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "primitive": primitive, "group": group, "clone": clone, "location": location,
    "colocation": colocation, "order": order, "rsc_ticket": ticket, "tag": tag,
    "property": _nvsets("property"), "rsc_defaults": _nvsets("rsc_defaults"),
    "op_defaults": _nvsets("op_defaults"),
}


def statement(form: dict[str, Any]) -> str:
    kind = form.get("kind")
    builder = BUILDERS.get(str(kind))
    if builder is None:
        raise CommandError(f"no form for {kind!r} (forms: {', '.join(BUILDERS)}; everything "
                           "else is written in the configuration text)", str(kind),
                           code="bad-request")
    return builder(form)
