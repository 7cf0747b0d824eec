"""A bundle's own orderings: its replicas' parts, and its child clone (Pacemaker's
pcmk__bundle_internal_constraints and the probe orderings of pcmk__bundle_create_probe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from defib.scheduler.working import BundleRt, Prim

if TYPE_CHECKING:  # ordering.py imports this module
    from defib.scheduler.ordering import Orderer

_PAIRS = (("start", "running"), ("stop", "stopped"))
_ROLE_PAIRS = (("promote", "promoted"), ("demote", "demoted"))


def has_promotable_child(bundle: BundleRt) -> bool:
    return bundle.child_clone is not None and bundle.child_clone.promotable


def bundle_orderings(orderer: Orderer, bundle: BundleRt) -> None:
    from defib.scheduler.ordering import CHILD_BEGIN, CHILD_END, IMPLIES_THEN

    clone = bundle.child_clone
    if clone is not None:
        orderer.collective_internal(clone)
        pairs = _PAIRS + (_ROLE_PAIRS if clone.promotable else ())
        for begin, end in pairs:
            # The bundle's action begins the child clone's; the clone's completion
            # completes the bundle's (only which of them are shown follows from it).
            orderer.edge(orderer.pseudo(bundle, begin), orderer.pseudo(clone, begin),
                         CHILD_BEGIN)
            orderer.edge(orderer.pseudo(clone, end), orderer.pseudo(bundle, end), CHILD_END)
        if clone.promotable:
            # Pacemaker's pcmk__promotable_restart_ordering, all optional.
            own = orderer.pseudo
            for first, then in (("stopped", "start"), ("stopped", "promote"),
                                ("demoted", "stop"), ("demoted", "start"),
                                ("demoted", "promote"), ("running", "promote"),
                                ("demote", "demoted")):
                orderer.edge(own(bundle, first), own(bundle, then))
    for replica in bundle.replicas:
        container = replica.container
        if clone is not None:
            # No child starts before every container has been looked for.
            for probe in orderer.actions_of(container, "monitor"):
                if probe.interval_ms == 0:
                    orderer.edge(probe, orderer.pseudo(clone, "start"))
        if replica.child is not None:
            # The bundle's stop begins each child's (which stops before its connection,
            # and so before its container: see remote_order).
            for stop in orderer.actions_of(replica.child, "stop"):
                orderer.edge(orderer.pseudo(bundle, "stop"), stop, CHILD_BEGIN)
        if replica.connection is not None:
            # A container that (re)starts restarts its connection (Pacemaker's
            # implies_then on "container then connection"); one that cannot start only
            # blocks it (the constraint's runnable half).
            for c_start in orderer.actions_of(container, "start"):
                if "placeholder" in c_start.extra:
                    continue
                for start in orderer.actions_of(replica.connection, "start"):
                    orderer.edge(c_start, start, IMPLIES_THEN)
            # A connection is probed only once its container runs.
            probes = [a for a in orderer.actions_of(replica.connection, "monitor")
                      if a.interval_ms == 0]
            for c_start in orderer.actions_of(container, "start"):
                for probe in probes:
                    orderer.edge(c_start, probe)
    if bundle.clone_node_max == 1:
        _one_replica_per_host(orderer, bundle)


def _one_replica_per_host(orderer: Orderer, bundle: BundleRt) -> None:
    """With one replica per host, no container starts on a node before every other
    container has been probed there (their port mappings would clash)."""
    containers: list[Prim] = [r.container for r in bundle.replicas]
    for container in containers:
        for probe in orderer.actions_of(container, "monitor"):
            if probe.interval_ms != 0:
                continue
            for other in containers:
                if other is container:
                    continue
                for start in orderer.actions_of(other, "start"):
                    if start.node is probe.node:
                        orderer.edge(probe, start)
