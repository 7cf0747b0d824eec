"""Scheduler history: the bounded series of scheduler inputs and transition graphs."""

from defib.history.series import PeSeries

__all__ = ["PeSeries"]
