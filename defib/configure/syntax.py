"""Shared vocabulary of the configure language: keywords, scores, rules and attribute sets.

``TokenStream`` is the cursor every statement parser uses; the rule and nvset readers live here
because nodes, resources, constraints and defaults all share them.
"""

from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import NoReturn

from defib.configure.ids import IdAllocator
from defib.configure.lexer import Statement, Token
from defib.configure.report import Location, Problem

STATEMENTS = (
    "node", "primitive", "rsc_template", "template", "group", "clone", "ms", "master", "bundle",
    "location", "colocation", "collocation", "order", "rsc_ticket", "property", "rsc_defaults",
    "op_defaults", "tag", "role", "acl_target", "user", "acl_group", "fencing_topology", "alert",
    "monitor",
)
RESOURCE_SECTIONS = ("params", "meta", "utilization", "operations", "op")
SET_TAGS = {
    "params": "instance_attributes",
    "attributes": "instance_attributes",
    "meta": "meta_attributes",
    "utilization": "utilization",
    "op_params": "instance_attributes",
    "op_meta": "meta_attributes",
}
OP_ATTRIBUTES = (
    "id", "name", "interval", "description", "start-delay", "interval-origin", "timeout",
    "enabled", "record-pending", "role", "requires", "on-fail",
)
BINARY_OPS = ("lt", "gt", "lte", "gte", "eq", "ne")
UNARY_OPS = ("defined", "not_defined")
EXPR_TYPES = ("string", "integer", "number", "version")
DATE_SPEC_KEYS = (
    "hours", "monthdays", "weekdays", "yeardays", "yearsdays", "months", "weeks", "years",
    "weekyears", "moon", "seconds", "minutes",
)
ROLES = ("Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave")
ACTIONS = ("start", "stop", "promote", "demote")
ORDER_KINDS = ("Mandatory", "Optional", "Serialize")
_SCORE_RE = re.compile(r"^([+-]?)(inf|infinity|\d+)$", re.IGNORECASE)


class ParseFailure(Exception):
    """Internal: one statement could not be read; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def canon_score(text: str) -> str | None:
    """``inf`` -> ``INFINITY``; ``-inf`` -> ``-INFINITY``; numbers unchanged; else None."""
    m = _SCORE_RE.match(text)
    if not m:
        return None
    sign, body = m.groups()
    if body.isdigit():
        return sign + body if sign == "-" else body
    return "-INFINITY" if sign == "-" else "INFINITY"


SCORE_WORDS = ("inf", "-inf", "INFINITY", "-INFINITY")


def suggest_score(raw: str) -> str | None:
    """The score meant by a mistyped one: ``INFINITYY`` -> ``INFINITY``, ``-inff`` -> ``-inf``."""
    if re.fullmatch(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+", raw):
        return "-inf" if raw.startswith("-") else "inf"  # beyond any score: INFINITY
    digits = re.sub(r"[^0-9+-]", "", raw)
    if re.fullmatch(r"[+-]?\d+", digits) and len(raw) - len(digits) == 1:
        return digits  # one stray character: "10o" -> "10"
    hit = difflib.get_close_matches(raw.lower(), [w.lower() for w in SCORE_WORDS], 1, 0.6)
    if hit:
        return {"inf": "inf", "-inf": "-inf", "infinity": "INFINITY",
                "-infinity": "-INFINITY"}[hit[0]]
    return None


def looks_like_score(raw: str) -> bool:
    """A rule's ``word:`` is a score-attribute unless it is a botched score (``1e99``,
    ``INFINITYY``, ``-5x``): those are refused rather than read as an attribute name."""
    if raw[:1] in "+-0123456789":
        return True
    return bool(difflib.get_close_matches(raw.lower(), ["infinity", "inf"], 1, 0.75))


def cli_score(score: str) -> str:
    return score.replace("+INFINITY", "inf").replace("INFINITY", "inf")


def suggest(word: str, choices: Iterable[str]) -> str | None:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if found:
        return found[0]
    # "ipaddr" for "ip": one name is a prefix of the other.
    prefixed = [c for c in options if len(c) > 1 and (word.startswith(c) or c.startswith(word))]
    if prefixed and len(word) > 1:
        return max(prefixed, key=len)
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return found[0] if found else None


def canon_interval(value: str) -> str:
    return value + "s" if value.isdigit() else value


class TokenStream:
    """A cursor over one statement's tokens with located errors."""

    def __init__(self, statement: Statement, ids: IdAllocator) -> None:
        self.statement = statement
        self.tokens = statement.tokens
        self.pos = 0
        self.ids = ids
        self.resolve: Callable[[str, str], str] = lambda _tag, ref: ref

    # -- cursor ---------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def peek_text(self, offset: int = 0) -> str | None:
        tok = self.peek(offset)
        return tok.text if tok is not None else None

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def next(self, what: str = "a value") -> Token:
        tok = self.peek()
        if tok is None:
            self.fail(f"expected {what} at end of statement")
        self.pos += 1
        return tok

    def accept(self, *words: str) -> Token | None:
        tok = self.peek()
        if tok is not None and not tok.quoted and tok.text.lower() in words:
            self.pos += 1
            return tok
        return None

    def expect(self, *words: str) -> Token:
        tok = self.peek()
        if tok is None:
            self.fail(f"expected {' or '.join(words)} at end of statement")
        if tok.text.lower() not in words:
            self.fail(f"expected {' or '.join(words)}, got {tok.text!r}", tok,
                      suggest(tok.text, words))
        self.pos += 1
        return tok

    def location(self, tok: Token | None = None) -> Location:
        if tok is None:
            tok = self.peek() or (self.tokens[-1] if self.tokens else None)
        if tok is None:
            return Location(self.statement.line)
        return tok.location

    def fail(self, message: str, tok: Token | None = None, suggestion: str | None = None,
             code: str = "syntax") -> NoReturn:
        raise ParseFailure(Problem(code, message, self.location(tok), suggestion))

    def identifier(self, what: str = "an id") -> tuple[str, Token]:
        tok = self.next(what)
        text = tok.text[3:] if tok.text.startswith("id=") else tok.text
        if not text or not re.match(r"^[A-Za-z0-9_.:@-][A-Za-z0-9_.:@#-]*$", text):
            self.fail(f"invalid {what} {tok.text!r}", tok)
        return text, tok

    # -- small token tests ---------------------------------------------------------------
    @staticmethod
    def is_nvpair(tok: Token | None) -> bool:
        if tok is None:
            return False
        if tok.text.startswith("@"):
            return True
        return "=" in tok.text and not tok.text.startswith("$id=") and not tok.text.startswith(
            "$id-ref="
        )

    def idspec(self) -> tuple[str, str] | None:
        """``$id=X`` / ``$id-ref=X`` -> ("id", X) / ("id-ref", X)."""
        tok = self.peek()
        if tok is None:
            return None
        for key in ("$id=", "$id-ref="):
            if tok.text.startswith(key):
                self.pos += 1
                return key[1:-1], tok.text[len(key):]
        return None

    # -- nvpairs -------------------------------------------------------------------------
    def nvpairs(self, parent: ET.Element, prefix: str, stop: Iterable[str] = ()) -> int:
        """Read ``name=value`` tokens (and ``$id:name=value``, ``@ref``) into ``parent``."""
        stops = set(stop)
        count = 0
        while True:
            tok = self.peek()
            if tok is None or (not tok.quoted and tok.text.lower() in stops):
                return count
            if not self.is_nvpair(tok):
                return count
            self.pos += 1
            count += 1
            text = tok.text
            if text.startswith("@"):
                ref, _, name = text[1:].partition(":")
                nv = ET.SubElement(parent, "nvpair", {"id-ref": ref})
                if name:
                    nv.set("name", name)
                continue
            explicit = None
            if text.startswith("$") and ":" in text.split("=", 1)[0]:
                explicit, _, text = text[1:].partition(":")
            name, _, value = text.partition("=")
            if not name:
                self.fail(f"missing attribute name in {tok.text!r}", tok)
            nv = ET.SubElement(parent, "nvpair", {"name": name, "value": value})
            nv.set("id", self.ids.take(explicit) if explicit else self.ids.new(f"{prefix}-{name}"))

    def simple_nvpairs(self, stop: Iterable[str] = ()) -> list[tuple[str, str, Token]]:
        """Plain ``name=value`` tokens as tuples (for element attributes)."""
        stops = set(stop)
        out: list[tuple[str, str, Token]] = []
        while True:
            tok = self.peek()
            if tok is None or tok.text.lower() in stops or "=" not in tok.text:
                return out
            self.pos += 1
            name, _, value = tok.text.partition("=")
            out.append((name, value, tok))

    # -- attribute sets ------------------------------------------------------------------
    def attr_set(self, tag: str, owner: str, stop: Iterable[str], suffix: str | None = None,
                 explicit_id: str | None = None) -> ET.Element:
        """``[$id=X|$id-ref=X] [score:] [rule ...]... nvpairs``."""
        el = ET.Element(tag)
        spec = self.idspec()
        if spec is not None and spec[0] == "id-ref":
            el.set("id-ref", spec[1])
            return el
        if spec is not None:
            explicit_id = spec[1]
        set_id = self.ids.take(explicit_id) if explicit_id else self.ids.new(
            f"{owner}-{suffix or tag}")
        el.set("id", set_id)
        tok = self.peek()
        if tok is not None and tok.text.endswith(":") and canon_score(tok.text[:-1]) is not None:
            self.pos += 1
            el.set("score", canon_score(tok.text[:-1]) or "")
        while self.accept("rule"):
            self.pos -= 1
            el.append(self.rule(set_id))
        self.nvpairs(el, set_id, stop)
        return el

    # -- rules ---------------------------------------------------------------------------
    def rule(self, parent_id: str, allow_score: bool = True) -> ET.Element:
        self.expect("rule")
        el = ET.Element("rule")
        spec = self.idspec()
        if spec is not None and spec[0] == "id-ref":
            el.set("id-ref", self.resolve("rule", spec[1]))
            return el
        role_tok = self.peek()
        role = None
        if role_tok is not None and (role_tok.text.startswith("$role=")
                                     or role_tok.text.startswith("role=")):
            role = role_tok.text.split("=", 1)[1]
            self.pos += 1
        tok = self.peek()
        if allow_score and tok is not None and tok.text.endswith(":") and len(tok.text) > 1:
            self.pos += 1
            score = canon_score(tok.text[:-1])
            if score is not None:
                el.set("score", score)
            elif looks_like_score(tok.text[:-1]):
                self.fail(f"invalid score {tok.text[:-1]!r}: expected an integer, inf or -inf "
                          "(or the name of a node attribute holding the score)", tok,
                          suggest_score(tok.text[:-1]), code="invalid-score")
            else:
                el.set("score-attribute", tok.text[:-1])
        elif allow_score:
            el.set("score", "INFINITY")
        rule_id = self.ids.take(spec[1]) if spec else self.ids.new(f"{parent_id}-rule")
        el.set("id", rule_id)
        if role:
            el.set("role", role)
        self._expressions(el, rule_id)
        return el

    def nested_rule(self, parent_id: str) -> ET.Element:
        """``( [$id=X] [score:] expression ... )``: a rule inside a rule (Pacemaker allows it)."""
        el = ET.Element("rule")
        spec = self.idspec()
        tok = self.peek()
        if tok is not None and tok.text.endswith(":") and canon_score(tok.text[:-1]):
            self.pos += 1
            el.set("score", canon_score(tok.text[:-1]) or "")
        else:
            el.set("score", "INFINITY")
        rule_id = self.ids.take(spec[1]) if spec else self.ids.new(f"{parent_id}-rule")
        el.set("id", rule_id)
        self._expressions(el, rule_id)
        self.expect(")")
        return el

    def _expressions(self, el: ET.Element, rule_id: str) -> None:
        boolop = None
        el.append(self.simple_expression(rule_id))
        while True:
            tok = self.peek()
            if tok is None or tok.quoted or tok.text.lower() not in ("and", "or"):
                break
            word = tok.text.lower()
            if boolop is not None and word != boolop:
                self.fail(f"mixing boolean operators is not allowed ({boolop} != {word}); "
                          "group with ( ... )", tok)
            boolop = word
            self.pos += 1
            el.append(self.simple_expression(rule_id))
        if boolop == "or":
            el.set("boolean-op", "or")

    def simple_expression(self, rule_id: str) -> ET.Element:
        tok = self.next("an expression")
        word = tok.text
        if not tok.quoted and word == "(":
            return self.nested_rule(rule_id)
        if not tok.quoted and word.lower() == "date":
            return self.date_expression(rule_id)
        if not tok.quoted and word.lower() == "op":
            # Pacemaker's op_expression (rules of op_defaults): op <name> [interval=<i>]
            name = self.next("an operation name")
            el = ET.Element("op_expression", {"name": name.text})
            nxt = self.peek()
            if nxt is not None and nxt.text.startswith("interval="):
                self.pos += 1
                el.set("interval", nxt.text.split("=", 1)[1])
            el.set("id", self.ids.new(f"{rule_id}-expression"))
            return el
        if not tok.quoted and word.lower() == "resource":
            # Pacemaker's rsc_expression: resource [<class>]:[<provider>]:[<type>]
            spec = self.next("class:provider:type").text
            parts = spec.split(":")
            if len(parts) != 3:
                self.fail(f"expected class:provider:type (parts may be empty), got {spec!r}")
            el = ET.Element("rsc_expression")
            for key, value in zip(("class", "provider", "type"), parts, strict=True):
                if value:
                    el.set(key, value)
            el.set("id", self.ids.new(f"{rule_id}-expression"))
            return el
        if not tok.quoted and word.lower() in UNARY_OPS:
            attr = self.next("an attribute name")
            el = ET.Element("expression", {"operation": word.lower(), "attribute": attr.text})
            el.set("id", self.ids.new(f"{rule_id}-expression"))
            return el
        op_tok = self.next("an operator (eq, ne, lt, gt, lte, gte, defined, not_defined)")
        typ, _, op = op_tok.text.rpartition(":")
        if op.lower() not in BINARY_OPS or (typ and typ.lower() not in EXPR_TYPES):
            hint = suggest(word, UNARY_OPS + ("date",)) or suggest(op, BINARY_OPS)
            self.fail(f"expected an operator after {word!r}, got {op_tok.text!r}", op_tok, hint)
        value_tok = self.next("a value")
        el = ET.Element("expression", {"operation": op.lower(), "attribute": word})
        m = re.match(r"^(?P<src>[^\s{}]+)\{(?P<val>\S+)\}$", value_tok.text)
        if m and not value_tok.quoted:
            el.set("value", m.group("val"))
            el.set("value-source", m.group("src"))
        else:
            el.set("value", value_tok.text)
        if typ:
            el.set("type", typ.lower())
        el.set("id", self.ids.new(f"{rule_id}-expression"))
        return el

    def date_expression(self, rule_id: str) -> ET.Element:
        op_tok = self.next("a date operation (lt, gt, in, spec)")
        op = {"in": "in_range", "spec": "date_spec"}.get(op_tok.text.lower(), op_tok.text.lower())
        if op not in ("lt", "gt", "in_range", "date_spec"):
            self.fail(f"unknown date operation {op_tok.text!r}", op_tok,
                      suggest(op_tok.text, ("lt", "gt", "in", "spec", "in_range", "date_spec")))
        el = ET.Element("date_expression", {"operation": op})
        ident = self.ids.new(f"{rule_id}-expression")
        if op in ("lt", "gt"):
            value = self.next("a date").text
            el.set("end" if op == "lt" else "start", value)
            el.set("id", ident)
            return el
        keys = ("start", "end") + DATE_SPEC_KEYS if op == "in_range" else DATE_SPEC_KEYS
        pairs: list[tuple[str, str]] = []
        while True:
            tok = self.peek()
            if tok is None or "=" not in tok.text or tok.text.split("=")[0] not in keys:
                break
            self.pos += 1
            name, _, value = tok.text.partition("=")
            pairs.append((name, value))
        if not pairs:
            self.fail(f"date {op_tok.text} needs attributes ({', '.join(keys[:4])} ...)")
        child_tag = "duration" if op == "in_range" else "date_spec"
        child: ET.Element | None = None
        for name, value in pairs:
            if op == "in_range" and name in ("start", "end"):
                el.set(name, value)
            else:
                if child is None:
                    child = ET.Element(child_tag)
                child.set(name, value)
        el.set("id", ident)
        if child is not None:
            child.set("id", self.ids.new(f"{ident}-{child_tag}"))
            el.append(child)
        return el
