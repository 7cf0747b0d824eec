"""Rules: the boolean expressions that guard locations, attribute sets and defaults.

Kept as plain data; evaluation (which needs node attributes and a date) is the scheduler's.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AttributeExpression:
    id: str
    attribute: str
    operation: str  # lt gt lte gte eq ne defined not_defined
    value: str | None = None
    type: str = "string"  # string integer number version
    value_source: str = "literal"  # literal param meta


@dataclass(frozen=True, slots=True)
class DateSpec:
    """A cron-like specification; each field is a range text such as "1-5" or None."""

    id: str
    fields: tuple[
        tuple[str, str], ...
    ] = ()  # (hours|monthdays|weekdays|yeardays|months|weeks|years|weekyears|moon, range)


@dataclass(frozen=True, slots=True)
class Duration:
    id: str
    fields: tuple[
        tuple[str, int], ...
    ] = ()  # (years|months|weeks|days|hours|minutes|seconds, amount)


@dataclass(frozen=True, slots=True)
class DateExpression:
    id: str
    operation: str  # gt lt in_range date_spec
    start: str | None = None
    end: str | None = None
    duration: Duration | None = None
    date_spec: DateSpec | None = None


@dataclass(frozen=True, slots=True)
class ResourceExpression:
    id: str
    rsc_class: str | None = None
    provider: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class OperationExpression:
    id: str
    name: str
    interval_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    boolean_op: str = "and"  # and | or
    score: int | None = None
    score_attribute: str | None = None
    role: str | None = None
    expressions: tuple[Expression, ...] = field(default_factory=tuple)


Expression = AttributeExpression | DateExpression | ResourceExpression | OperationExpression | Rule
