"""The pure, deterministic scheduler: `schedule(cib, now) -> Transition`."""

from defib.scheduler.pipeline import Transition, schedule

__all__ = ["Transition", "schedule"]
