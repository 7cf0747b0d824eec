"""Rule evaluation against node attributes, resource and operation context, and a date."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from defib.model.nvsets import NvSet
from defib.model.rules import (
    AttributeExpression,
    DateExpression,
    Expression,
    OperationExpression,
    ResourceExpression,
    Rule,
)
from defib.scheduler.dates import add_duration, date_spec_matches, parse_datetime


@dataclass(frozen=True)
class RuleContext:
    now: dt.datetime | None = None
    node_attrs: Mapping[str, str] = field(default_factory=dict)
    role: str | None = None
    rsc_class: str | None = None
    rsc_provider: str | None = None
    rsc_type: str | None = None
    op_name: str | None = None
    op_interval_ms: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    # Regex submatches of a location's rsc-pattern, for %1 style substitution.
    submatches: tuple[str, ...] = ()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


def _compare(attr_value: str | None, op: str, value: str | None, type_: str) -> bool:
    if op == "defined":
        return attr_value is not None
    if op == "not_defined":
        return attr_value is None
    if attr_value is None or value is None:
        # An undefined attribute is only "ne" to a value.
        return op == "ne" and attr_value is None and value is not None
    cmp: int
    kind = type_.lower()
    if kind in ("integer", "number"):
        left, right = _number(attr_value), _number(value)
        if left is None or right is None:
            cmp = (attr_value > value) - (attr_value < value)
        else:
            if kind == "integer":
                left, right = float(int(left)), float(int(right))
            cmp = (left > right) - (left < right)
    elif kind == "version":
        lv, rv = _version_key(attr_value), _version_key(value)
        cmp = (lv > rv) - (lv < rv)
    else:
        lo, ro = attr_value.lower(), value.lower()
        cmp = (lo > ro) - (lo < ro)
    return {
        "eq": cmp == 0,
        "ne": cmp != 0,
        "lt": cmp < 0,
        "lte": cmp <= 0,
        "gt": cmp > 0,
        "gte": cmp >= 0,
    }.get(op, False)


def _attribute_matches(expr: AttributeExpression, ctx: RuleContext) -> bool:
    value = expr.value
    if expr.value_source == "param" and value is not None:
        value = ctx.params.get(value)
    elif expr.value_source == "meta" and value is not None:
        value = ctx.meta.get(value)
    if value is not None and ctx.submatches and "%" in value:
        for index, sub in enumerate(ctx.submatches):
            value = value.replace(f"%{index}", sub)
    type_ = expr.type
    if (
        expr.value is not None
        and expr.type == "string"
        and expr.operation in ("lt", "gt", "lte", "gte")
    ):
        # Pacemaker compares as numbers when no type is given and both look numeric.
        if _number(expr.value) is not None:
            type_ = "number"
    return _compare(ctx.node_attrs.get(expr.attribute), expr.operation, value, type_)


def _date_matches(expr: DateExpression, ctx: RuleContext) -> bool:
    now = ctx.now
    if now is None:
        return False
    start = parse_datetime(expr.start) if expr.start else None
    end = parse_datetime(expr.end) if expr.end else None
    if expr.operation == "gt":
        return start is not None and now > start
    if expr.operation == "lt":
        return end is not None and now < end
    if expr.operation == "in_range":
        if end is None and start is not None and expr.duration is not None:
            end = add_duration(start, expr.duration)
        if start is not None and now < start:
            return False
        if end is not None and now > end:
            return False
        return start is not None or end is not None
    if expr.operation == "date_spec":
        return expr.date_spec is not None and date_spec_matches(expr.date_spec, now)
    return False


def expression_matches(expr: Expression, ctx: RuleContext) -> bool:
    if isinstance(expr, Rule):
        return rule_matches(expr, ctx)
    if isinstance(expr, AttributeExpression):
        return _attribute_matches(expr, ctx)
    if isinstance(expr, DateExpression):
        return _date_matches(expr, ctx)
    if isinstance(expr, ResourceExpression):
        return (
            (expr.rsc_class is None or expr.rsc_class == ctx.rsc_class)
            and (expr.provider is None or expr.provider == ctx.rsc_provider)
            and (expr.type is None or expr.type == ctx.rsc_type)
        )
    if isinstance(expr, OperationExpression):
        return expr.name == ctx.op_name and (
            expr.interval_ms is None or expr.interval_ms == ctx.op_interval_ms
        )
    return False


def rule_matches(rule: Rule, ctx: RuleContext) -> bool:
    if rule.role is not None and ctx.role is not None:
        if normalize_role(rule.role) != normalize_role(ctx.role):
            return False
    if not rule.expressions:
        return True
    results = (expression_matches(e, ctx) for e in rule.expressions)
    if rule.boolean_op == "or":
        return any(results)
    return all(results)


def normalize_role(role: str) -> str:
    return {"Master": "Promoted", "Slave": "Unpromoted"}.get(role, role)


def evaluate_nvsets(
    sets: tuple[NvSet, ...], ctx: RuleContext, into: dict[str, str] | None = None
) -> dict[str, str]:
    """Merge sets whose rules match, higher score first; the first value set wins."""
    merged: dict[str, str] = {} if into is None else into
    ordered = sorted(enumerate(sets), key=lambda item: (-item[1].score, item[0]))
    for _, nvset in ordered:
        if nvset.rule is not None and not rule_matches(nvset.rule, ctx):
            continue
        for key, value in nvset.pairs:
            merged.setdefault(key, value)
    return merged
