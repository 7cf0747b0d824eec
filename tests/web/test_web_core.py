"""The web interface as a person uses it: headless Chromium against ``defib web`` in front
of a live local cluster (real daemons, controller, ``ocf:heartbeat:Dummy`` agents whose
state files show where a resource really runs)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import WebCluster, goto, login, screenshot, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# Records, in the page, the browser clock when the row of ``rsc`` first shows ``node`` in
# its "where" cell (a MutationObserver: no polling from the test's side).
WATCH_WHERE = """([rsc, node]) => {
  window.__seenAt = null;
  const check = () => {
    const cell = document.querySelector(`tr[data-rsc="${rsc}"] td.where`);
    if (window.__seenAt === null && cell && cell.textContent === node) {
      window.__seenAt = Date.now();
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true,
                                                      characterData: true});
  check();
}"""


def where_shown(page: Any, rsc: str) -> str:
    return str(page.text_content(f'tr[data-rsc="{rsc}"] td.where') or "")


def wait_where(page: Any, rsc: str, node: str) -> None:
    page.wait_for_function("([rsc, node]) => { const c = document.querySelector("
                           "`tr[data-rsc=\"${rsc}\"] td.where`); return c && "
                           "c.textContent === node; }", arg=[rsc, node])


def settle(cluster: WebCluster) -> None:
    cluster.defib("resource", "cleanup", "--wait", "--timeout", "60")


def test_login_then_status_and_every_page(web_cluster: WebCluster, page: Any,
                                          tmp_path: Path) -> None:
    goto(page, web_cluster.url + "/")
    page.wait_for_selector("#login")
    screenshot(page, "login", tmp_path)
    page.fill("#login input[name=user]", web_cluster.user)
    page.fill("#login input[name=password]", "wrong password")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('wrong user name or password')")
    login(page, web_cluster)
    assert page.text_content("#who") == web_cluster.user
    nodes = page.eval_on_selector_all("#nodes tr[data-node]",
                                      "rows => rows.map(r => r.dataset.node)")
    assert nodes == ["node1", "node2"]
    for rsc in ("web", "site", "ip", "db"):
        page.wait_for_selector(f'tr[data-rsc="{rsc}"]')
    assert where_shown(page, "web") == web_cluster.running_on("web")[0]
    page.wait_for_selector("#warnings .warning:has-text('fencing is disabled')")
    page.wait_for_selector('#tags tr[data-tag="frontend"]')
    screenshot(page, "status", tmp_path)
    # Every page is reachable from the first one (those still being built say so).
    for link in page.eval_on_selector_all("#nav a", "links => links.map(a => a.dataset.page)"):
        page.click(f'#nav a[data-page="{link}"]')
        page.wait_for_selector(f'#nav a.active[data-page="{link}"]')
        page.wait_for_function("() => document.querySelector('#page').children.length > 0")
    page.click("#logout")
    page.wait_for_selector("#login-error:has-text('Logged out')")
    # The session is over on the server too, not only in the page.
    answer = page.evaluate("fetch('/api/status').then(r => r.status)")
    assert answer == 401


def test_status_follows_a_failover_within_a_second(web_cluster: WebCluster, page: Any,
                                                   tmp_path: Path) -> None:
    """web (migration-threshold=1) fails where it runs: the cluster moves it; the page
    shows it on the other node within 1 s of the agent really running there."""
    settle(web_cluster)
    login(page, web_cluster)
    home = wait_for(lambda: web_cluster.running_on("web"), "web to run")
    assert len(home) == 1
    other = "node2" if home == ["node1"] else "node1"
    page.evaluate(WATCH_WHERE, ["web", other])
    state = web_cluster.directory / home[0] / "run" / "Dummy-web.state"
    fault_at = time.time()
    state.unlink()  # the monitor (every 1 s) finds it not running: a failure
    deadline = time.monotonic() + 60
    while web_cluster.running_on("web") != [other]:
        assert time.monotonic() < deadline, "web never failed over"
        time.sleep(0.01)
    running_at = time.time()
    page.wait_for_function("() => window.__seenAt !== null", timeout=30_000)
    shown_at = page.evaluate("window.__seenAt") / 1000.0
    lag = shown_at - running_at
    print(f"\nfailover: fault -> running on {other} {running_at - fault_at:.2f} s, "
          f"running -> shown in the page {lag:.3f} s")
    page.wait_for_selector("#failures tr.failed:has-text('web_monitor_1000')")
    screenshot(page, "failover", tmp_path)
    assert lag < 1.0, f"the page showed the failover {lag:.2f} s after it happened"
    # Cleanup from the failure's row: the failure and the fail count are forgotten.
    page.click("#failures tr.failed:has-text('web_monitor_1000') button[data-action=Cleanup]")
    page.wait_for_selector("#messages p.ok:has-text('cleaned up web')")
    page.wait_for_selector("#failures tr.failed", state="detached")
    settle(web_cluster)


def test_move_by_click_then_clear(web_cluster: WebCluster, page: Any,
                                  tmp_path: Path) -> None:
    settle(web_cluster)
    login(page, web_cluster)
    home = wait_for(lambda: web_cluster.running_on("web"), "web to run")
    other = "node2" if home == ["node1"] else "node1"
    wait_where(page, "web", home[0])
    page.click('tr[data-rsc="web"] button.actions-open')
    page.select_option("#action-dialog select[name=node]", other)
    screenshot(page, "move-dialog", tmp_path)
    page.click('#action-dialog button[data-action="Move…"]')
    page.wait_for_selector(f"#messages p.ok:has-text('prefers {other}')")
    wait_for(lambda: web_cluster.running_on("web") == [other], f"web to run on {other}")
    wait_where(page, "web", other)
    screenshot(page, "moved", tmp_path)
    assert "cli-prefer-web" in web_cluster.defib("configure", "show").stdout
    page.click('tr[data-rsc="web"] button.actions-open')
    page.click('#action-dialog button[data-action="Clear move/ban"]')
    page.wait_for_selector("#messages p.ok:has-text('removed cli-prefer-web')")
    assert "cli-prefer-web" not in web_cluster.defib("configure", "show").stdout


ACL = """\
property enable-acl=true
role web-viewer read xpath:/cib
acl_target viewer web-viewer
"""


def test_read_only_role_is_offered_nothing_and_refused(web_cluster: WebCluster, page: Any,
                                                       tmp_path: Path) -> None:
    script = tmp_path / "acl.crm"
    script.write_text(ACL)
    web_cluster.defib("configure", "-f", str(script))
    if "viewer" not in web_cluster.defib("web", "user", "list").stdout:
        web_cluster.defib("web", "user", "add", "viewer", "--password-stdin",
                          input="viewer-secret\n")
    try:
        login(page, web_cluster, "viewer", "viewer-secret")
        page.wait_for_selector('tr[data-rsc="web"]')
        page.wait_for_selector("#who .tag:has-text('read-only')")
        # Nothing is offered: no resource, node or tag actions.
        assert page.query_selector_all("#page button") == []
        screenshot(page, "read-only", tmp_path)
        # A forged request, with a valid session and CSRF token and the confirmation the
        # page would send after asking: the cluster refuses it.
        answer = page.evaluate("""async () => {
            const session = await (await fetch('/api/session')).json();
            const r = await fetch('/api/resources/web/stop', {method: 'POST',
                headers: {'X-CSRF-Token': session.csrf, 'Content-Type': 'application/json'},
                body: '{"force": true}'});
            return [r.status, await r.text()];
        }""")
        assert answer[0] == 403, answer
        assert "permission denied" in json.loads(answer[1])["error"]
        wait_for(lambda: "refused POST /api/resources/web/stop for web user viewer"
                 in web_cluster.log.read_text(), "the refusal in the server's log", 10)
        assert "target-role=Stopped" not in web_cluster.defib("configure", "show").stdout
    finally:
        web_cluster.defib("property", "enable-acl", "false", check=False)


def test_standby_and_online_by_click_and_fencing_asks_first(web_cluster: WebCluster,
                                                            page: Any, tmp_path: Path) -> None:
    settle(web_cluster)
    login(page, web_cluster)
    home = wait_for(lambda: web_cluster.running_on("web"), "web to run")[0]
    other = "node2" if home == "node1" else "node1"
    row = f'#nodes tr[data-node="{home}"]'
    page.click(f'{row} button[data-action="Standby"]')
    page.wait_for_selector(f"{row} td.state:has-text('standby')")
    wait_for(lambda: web_cluster.running_on("web") == [other], f"web to leave {home}")
    wait_where(page, "web", other)
    screenshot(page, "standby", tmp_path)
    page.click(f'{row} button[data-action="Online"]')
    page.wait_for_selector(f"{row} td.state:not(:has-text('standby'))")
    # Fencing is offered to an administrator, behind a confirmation; cancelling does nothing.
    page.click(f'{row} button[data-action="Fence…"]')
    page.wait_for_selector(f"#action-dialog[open] h3:has-text('Fence {home}?')")
    screenshot(page, "fence-confirm", tmp_path)
    page.click("#action-dialog button[value=cancel]")
    page.wait_for_selector("#action-dialog:not([open])", state="attached")
    assert page.query_selector("#messages p") is not None  # standby and online reported
    assert "fence" not in (page.text_content("#messages") or "")
    settle(web_cluster)


def test_bulk_stop_on_a_tag_asks_first_then_start(web_cluster: WebCluster, page: Any,
                                                  tmp_path: Path) -> None:
    settle(web_cluster)
    login(page, web_cluster)
    wait_for(lambda: web_cluster.running_on("web") and web_cluster.running_on("ip"),
             "web and ip to run")
    tag = '#tags tr[data-tag="frontend"]'
    page.click(f'{tag} button[data-action="stop"]')
    # Stopping running resources is asked about, as on the command line.
    page.wait_for_selector("#action-dialog[open] .warning:has-text('this stops running "
                           "resources')")
    screenshot(page, "confirm-stop", tmp_path)
    assert web_cluster.running_on("web")  # not before the answer
    page.click('#action-dialog button[data-action="Yes, stop frontend"]')
    page.wait_for_selector("#messages p.ok:has-text('stop frontend')")
    wait_for(lambda: not web_cluster.running_on("web") and not web_cluster.running_on("ip"),
             "web and ip to stop")
    page.wait_for_selector('tr[data-rsc="web"] td.role:has-text("Stopped")')
    page.click(f'{tag} button[data-action="start"]')
    page.wait_for_selector("#messages p.ok:has-text('start frontend')")
    wait_for(lambda: web_cluster.running_on("web") and web_cluster.running_on("ip"),
             "web and ip to start again")
