"""Why a resource runs where it runs, or does not run: from the scheduler's own trace."""

from defib.explain.explain import Cause, Explanation, explain, trace_schedule
from defib.explain.trace import DecisionTrace

__all__ = ["Cause", "DecisionTrace", "Explanation", "explain", "trace_schedule"]
