"""The editing pages as a person uses them (headless Chromium against ``defib web`` on a
live local cluster): a primitive from its agent's metadata form, a change previewed in the
sandbox then applied, a transition opened from the history and explained, the
configuration text refusing a typo (located), and the constraint graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import WebCluster, login, screenshot, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(autouse=True)
def patient(page: Any) -> None:
    """A loaded 2-core box (other clusters, other browsers) can take more than the default
    30 s for a step: these tests wait on conditions, so a longer bound costs nothing."""
    page.set_default_timeout(60_000)


def enter(page: Any, cluster: WebCluster, where: str = "status") -> None:
    """Log in (again, on a fresh load, when Chromium dropped the page because other tests
    changed the machine's network meanwhile: the navigation then ends in chrome-error, or
    the live stream has to reconnect), then open the page ``where``."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            login(page, cluster)
            break
        except Error:
            if attempt == 2:
                raise
    show(page, where)


def show(page: Any, where: str) -> None:
    """Open a page of the interface as its link does (a hash change, no new load)."""
    page.evaluate("(where) => { location.hash = where; }", f"#/{where}")
    name = where.split("?")[0]
    page.wait_for_selector(f'#nav a.active[data-page="{name}"]')


def discard_sandbox(page: Any) -> None:
    """Leave no sandbox behind (the page's own session, CSRF token included)."""
    show(page, "sandbox")
    page.wait_for_selector("#sandbox-state .we-panel")
    if page.query_selector("#discard"):
        page.click("#discard")
        page.wait_for_selector("#new-sandbox")


def remove(cluster: WebCluster, rsc: str) -> None:
    cluster.defib("resource", "stop", rsc, "--wait", "--timeout", "60", "--force")
    cluster.defib("configure", "delete", rsc, "--force")


def test_new_primitive_from_the_metadata_form_previewed_then_applied(
        web_cluster: WebCluster, page: Any, tmp_path: Path) -> None:
    enter(page, web_cluster, "edit")
    page.click('.we-tabs button[data-tab="primitive"]')
    page.fill("#agent-search", "Dummy")
    page.wait_for_selector('#agent-list option[value="ocf:heartbeat:Dummy"]')
    page.select_option("#agent-list", "ocf:heartbeat:Dummy")
    # The form comes from the agent's metadata: its parameters, with their help.
    page.wait_for_selector('#primitive-form [name="param-state"]')
    assert page.input_value("#op-rows .op-name") == "monitor"
    page.fill("#primitive-id", "extra")
    page.fill('#primitive-form [name="param-fake"]', "from-the-form")
    screenshot(page, "edit-form", tmp_path)
    page.click("#create-primitive")
    page.wait_for_selector("#change-done:has-text('Saved in your sandbox')")
    assert "extra" not in web_cluster.defib("configure", "show").stdout  # not applied yet
    page.click("#to-sandbox")
    page.wait_for_selector("#changes .object[data-id=extra]:has-text('+primitive extra Dummy')")
    # The preview: nothing to do before, a start of extra after, each with its graph.
    page.wait_for_selector("#preview-after li:has-text('Start')")
    assert "extra" in page.text_content("#preview-after ul.we-summary")
    assert page.query_selector("#preview-before .we-svg svg") is not None
    assert "extra" in page.inner_html("#preview-after .we-svg")
    screenshot(page, "sandbox-preview", tmp_path)
    try:
        page.click("#apply")
        page.wait_for_selector("#committed:has-text('Applied')")
        wait_for(lambda: web_cluster.running_on("extra"), "extra to run")
        shown = web_cluster.defib("configure", "show", "extra").stdout
        assert "fake=from-the-form" in shown and "op start" in shown  # the agent's defaults
    finally:
        discard_sandbox(page)
        if "extra" in web_cluster.defib("configure", "show").stdout:
            remove(web_cluster, "extra")


def test_what_if_preview_then_a_refused_commit_after_a_concurrent_change(
        web_cluster: WebCluster, page: Any, tmp_path: Path) -> None:
    home = wait_for(lambda: web_cluster.running_on("web"), "web to run")[0]
    enter(page, web_cluster, "edit?tab=constraint")
    page.select_option('#constraint-form select[name="kind"]', "location")
    page.fill('#constraint-form input[name="id"]', "avoid-home")
    page.select_option('#constraint-form select[name="rsc"]', "web")
    page.fill('#constraint-form input[name="score"]', "-INFINITY")
    page.select_option('#constraint-form select[name="node"]', home)
    page.click("#constraint-form button[type=submit]")
    page.wait_for_selector("#change-done")
    page.click("#to-sandbox")
    page.wait_for_selector("#preview-after li:has-text('web')")
    assert "Move" in page.text_content("#preview-after ul.we-summary")
    # What if the other node failed as well? Then web could run nowhere.
    other = "node2" if home == "node1" else "node1"
    page.select_option("#event-kind", "node_fail")
    page.fill("#event-value", other)
    page.click("#add-event")
    page.wait_for_selector("#preview-after li:has-text('Stop')")
    screenshot(page, "sandbox-what-if", tmp_path)
    try:
        # Meanwhile someone changes the cluster: the commit is refused, nothing written.
        web_cluster.defib("configure", "property", "cluster-recheck-interval=14min")
        page.click("#apply")
        page.wait_for_selector("#commit-refused:has-text('changed since the sandbox was copied')")
        assert "-inf" not in web_cluster.defib("configure", "show", "web").stdout
        screenshot(page, "sandbox-conflict", tmp_path)
    finally:
        discard_sandbox(page)
        web_cluster.defib("property", "--delete", "cluster-recheck-interval")


def test_history_failed_action_to_its_moment_explained_and_replayed(
        web_cluster: WebCluster, page: Any, tmp_path: Path) -> None:
    web_cluster.defib("configure", "primitive", "flaky", "ocf:heartbeat:Dummy", "op",
                      "monitor", "interval=1s", "timeout=20s")
    try:
        node = wait_for(lambda: web_cluster.running_on("flaky"), "flaky to run")[0]
        # The agent's monitor looks at its state file: without it, the monitor fails.
        (web_cluster.directory / node / "run" / "Dummy-flaky.state").unlink()
        wait_for(lambda: "FAILED" in web_cluster.defib(
            "history", "--resource", "flaky", "--kind", "operation").stdout,
            "the failed monitor to be recorded", 60)
        enter(page, web_cluster, "history")
        page.click(".we-timeline tr.failed:has-text('flaky') button.to-moment >> nth=-1")
        # The slider stands at the failure; the transition that reacted to it opens.
        page.wait_for_selector(".we-timeline tr.current.failed:has-text('flaky')")
        page.wait_for_selector("#transition-explanation:has-text('flaky_monitor_1000 failed')")
        page.wait_for_selector("#transition-explanation:has-text('What the scheduler decided')")
        assert page.query_selector("#transition-detail .we-svg svg") is not None
        assert page.query_selector(".we-timeline tr.future") is not None
        page.fill("#explain-rsc", "web")
        page.click("#explain")
        page.wait_for_selector("#explain-text:has-text('web (ocf:heartbeat:Dummy)')")
        screenshot(page, "history", tmp_path)
        page.click("#replay")
        page.wait_for_selector("#sandbox-state .warning:has-text('replays a saved scheduler')")
        page.wait_for_selector("#preview-after .we-svg svg")
        assert page.query_selector("#apply") is None  # a replay is not applied
        discard_sandbox(page)
    finally:
        remove(web_cluster, "flaky")
        web_cluster.defib("resource", "cleanup", "--wait", "--timeout", "60")


def test_text_editor_locates_a_typo_and_refuses_to_apply_it(
        web_cluster: WebCluster, page: Any, tmp_path: Path) -> None:
    enter(page, web_cluster, "edit")
    page.wait_for_selector("#validate-status.we-ok")
    text = page.input_value("#config-text")
    typo_line = len(text.rstrip("\n").split("\n")) + 1
    page.fill("#config-text", text.rstrip("\n") + "\nprimitve typo ocf:heartbeat:Dummy\n")
    page.dispatch_event("#config-text", "input")
    report = page.wait_for_selector("#validate-reports li:has-text('did you mean')")
    assert f"line {typo_line}, column 1: unknown statement 'primitve'" in report.text_content()
    assert "cannot be applied" in page.text_content("#validate-status")
    assert page.query_selector(".we-gutter .bad") is not None
    screenshot(page, "edit-text-error", tmp_path)
    page.click("#apply-text")
    page.wait_for_selector("#change-refused:has-text('nothing was changed')")
    assert "typo" not in web_cluster.defib("configure", "show").stdout
    discard_sandbox(page)


def test_constraint_graph_draws_zooms_and_explains(web_cluster: WebCluster, page: Any,
                                                   tmp_path: Path) -> None:
    enter(page, web_cluster, "graph")
    for rsc in ("web", "site", "ip", "db", "node1"):
        page.wait_for_selector(f'#constraint-graph g.vertex[data-id="{rsc}"]')
    assert page.query_selector('#constraint-graph path.member[data-from="site"]'
                               '[data-to="ip"]') is not None
    before = page.get_attribute("#constraint-graph svg", "viewBox")
    page.click("#zoom-in")
    assert page.get_attribute("#constraint-graph svg", "viewBox") != before
    page.click("#zoom-fit")
    page.click('#constraint-graph g.vertex[data-id="web"]')
    page.wait_for_selector("#graph-explain-text:has-text('web (ocf:heartbeat:Dummy)')")
    screenshot(page, "graph", tmp_path)
