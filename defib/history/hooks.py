"""The one hook the controller calls: what only the DC knows (transitions, failed fencing).

The controller holds an optional observer (``Controller.history``, None by default) and calls
it; ``defib.history.recorder.HistoryRecorder`` implements it.
"""

from __future__ import annotations

from typing import Protocol


class TransitionObserver(Protocol):
    def transition_started(self, number: int, cause: str, summary: list[str],
                           actions: int) -> None: ...

    def transition_ended(self, number: int, complete: bool, run: int, failed: list[str],
                         reason: str | None) -> None: ...

    def fencing_failed(self, target: str, action: str, reason: str) -> None: ...
