"""The messaging stacks the cluster tests run on: defib's own layer, and Corosync (each node a
host running corosync) where this machine can run it."""

from __future__ import annotations

import pytest

from defib.cluster.testing import corosync_unavailable_reason

STACKS = [
    "heartbeat",
    pytest.param("corosync", marks=[
        pytest.mark.slow,
        pytest.mark.skipif(corosync_unavailable_reason() is not None,
                           reason=f"corosync: {corosync_unavailable_reason()}")]),
]
