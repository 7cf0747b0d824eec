"""Rules of the remote, guest and bundle family, checked on variations of Pacemaker's own
cases against the installed ``crm_simulate`` 2.1.5.

Each test takes a reference CIB from ../shared/scheduler-cases, changes it so that it is no
longer the case the conformance test already scores (a resource or bundle removed, a
constraint dropped), and requires defib's transition summary (and, where it says so, the
transition graph) to equal what ``crm_simulate`` computes for the very same file.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from defib.cib.parse import parse_cib_file
from defib.graph.build import build_graph
from defib.graph.xml import graph_from_xml
from defib.simulate.conformance import graph_signature, summary_set
from defib.simulate.engine import simulate

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "scheduler-cases" / "xml"
pytestmark = pytest.mark.skipif(
    shutil.which("crm_simulate") is None or not CASES.is_dir(),
    reason="needs crm_simulate (pacemaker-cli-utils) and ../shared/scheduler-cases")

_TAGS = ("bundle", "primitive", "clone", "group", "lrm_resource", "rsc_order",
         "rsc_colocation", "rsc_location")


def variant(case: str, tmp: Path, drop: tuple[str, ...] = (),
            edit: Callable[[ET.Element], None] | None = None) -> Path:
    """``case`` without every resource, history and constraint whose id (or the resource
    it names) starts with one of ``drop``; ``edit`` changes the tree further."""
    tree = ET.parse(CASES / f"{case}.xml")
    root = tree.getroot()

    def named(element: ET.Element) -> bool:
        return element.tag in _TAGS and any(
            (element.get(attr) or "").startswith(prefix)
            for attr in ("id", "rsc", "first", "then", "with-rsc") for prefix in drop)

    for parent in list(root.iter()):
        for child in list(parent):
            if named(child):
                parent.remove(child)
    if edit is not None:
        edit(root)
    out = tmp / f"{case}-variant.xml"
    tree.write(out)
    return out


def reference(path: Path, tmp: Path) -> tuple[str, bytes]:
    graph = tmp / "reference-graph.xml"
    run = subprocess.run(["crm_simulate", "-S", "-x", str(path), "-G", str(graph)],
                         capture_output=True, text=True, timeout=120, check=True)
    return run.stdout, graph.read_bytes()


def compare(path: Path, tmp: Path, graph: bool = False) -> None:
    expected, expected_graph = reference(path, tmp)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sim = simulate(parse_cib_file(str(path)), None, default_now=now)
    assert summary_set(sim.text()) == summary_set(expected)
    if graph:
        assert graph_signature(build_graph(sim.transition)) == graph_signature(
            graph_from_xml(expected_graph))


def test_guest_nodes_of_a_dead_host_recover_their_containers(tmp_path: Path) -> None:
    """The host of two guests is lost: fencing the guests means recovering ("Recover",
    not "Move") their containers elsewhere, and what ran inside with them."""
    def no_preference(root: ET.Element) -> None:
        for constraints in root.iter("constraints"):
            for loc in list(constraints):
                if loc.get("id", "").startswith("cli-prefer"):
                    constraints.remove(loc)
    compare(variant("guest-node-host-dies", tmp_path, ("rsc_rhel7-1",), no_preference),
            tmp_path)


def test_guests_of_an_unfenceable_host_are_not_fenced(tmp_path: Path) -> None:
    """Without quorum the lost host can't be fenced: nor can its guests, and what runs in
    them stays blocked ("due to no quorum (blocked)")."""
    compare(variant("guest-host-not-fenceable", tmp_path, ("rabbitmq",)), tmp_path)


def test_bundle_connection_of_a_lost_node_goes_to_a_cluster_node(tmp_path: Path) -> None:
    """A replica whose host is being fenced: its connection (colocated with the container
    below INFINITY) is placed elsewhere with an unrunnable start, which moves the balance
    of the other resources; connection and child stop "due to unrunnable ... start"."""
    compare(variant("bundle-order-fencing", tmp_path, ("galera", "redis", "haproxy")),
            tmp_path)


def test_no_promotion_inside_a_container_that_cannot_run(tmp_path: Path) -> None:
    """Promotion scores of a bundle child with container-attribute-target=host come from
    the container's host; a replica whose container goes nowhere is not promoted."""
    compare(variant("no-promote-on-unrunnable-guest", tmp_path, ("galera", "redis")),
            tmp_path)


def test_promoted_role_location_on_a_bundle_promotes_its_child(tmp_path: Path) -> None:
    compare(variant("bundle-order-startup-clone-2", tmp_path, ("storage",)), tmp_path)


def test_orphaned_connection_keeps_its_node_until_it_stops(tmp_path: Path) -> None:
    """A remote connection no longer configured: its node still runs what the history says,
    which moves away before the connection stops."""
    compare(variant("remote-orphaned", tmp_path, ("lsb-dummy",)), tmp_path, graph=True)


def test_orphaned_guest_keeps_its_node_until_it_stops(tmp_path: Path) -> None:
    compare(variant("whitebox-orphaned", tmp_path, ("A",)), tmp_path)


def test_bundle_startup_graph(tmp_path: Path) -> None:
    """The whole graph of bundles starting: the child clone inside its bundle, probes of
    the replica parts, connections after containers, children after connections."""
    compare(variant("bundle-order-startup", tmp_path, ("openstack-cinder",)), tmp_path,
            graph=True)


def test_bundle_stop_graph(tmp_path: Path) -> None:
    compare(variant("bundle-order-stop-clone", tmp_path, ("redis",)), tmp_path, graph=True)


def test_remote_node_probes_wait_for_the_connection(tmp_path: Path) -> None:
    compare(variant("remote-startup-probes", tmp_path, ("rsc_18node3",)), tmp_path,
            graph=True)


def test_guest_connection_opts_in_where_its_container_may_run(tmp_path: Path) -> None:
    """symmetric-cluster=false: the guest's connection has no location of its own, yet it
    runs where its container does."""
    compare(variant("whitebox-asymmetric", tmp_path, ("vg_tags_dup",)), tmp_path,
            graph=True)


def test_container_answers_for_its_guests_failures(tmp_path: Path) -> None:
    """A guest's connection failed too often on a node: its container (outside bundles)
    counts those failures as its own and stays off that node."""
    compare(variant("whitebox-fail3", tmp_path, ("FAKE",)), tmp_path)


def test_failed_connection_waits_for_its_reconnect_interval(tmp_path: Path) -> None:
    """A remote connection failed 51 s before the simulated time, reconnect_interval=60s:
    it is shown FAILED and not started again yet."""
    compare(variant("remote-reconnect-delay", tmp_path, ("lsb-dummy",)), tmp_path,
            graph=True)


def test_failure_inside_a_guest_fences_it_by_recovering_its_container(tmp_path: Path) -> None:
    """A monitor with on-fail=fence fails inside a guest: the guest is "fenced" by
    recovering its VM ('guest is unclean'); what else runs there restarts with the VM."""
    compare(variant("bug-rh-1097457", tmp_path, ("FAKE5",)), tmp_path)
