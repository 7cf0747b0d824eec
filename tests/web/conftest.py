"""Shared by the web tests: one live local cluster with the web server in front of it
(``defib web`` as an administrator runs it), and headless Debian Chromium driven by
Playwright. The cluster is started once for all web test modules (it takes seconds) and
torn down even when a test fails; tests leave it as they found it where they can.

Browser tests need ``/usr/bin/chromium`` (``apt-get install chromium``) and the
``playwright`` package (the dev extra); the browser is never downloaded."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.cli_cluster import DEFIB, tear_down, until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CONFIG = """\
property stonith-enabled=false
primitive web ocf:heartbeat:Dummy op monitor interval=1s timeout=20s \\
    meta migration-threshold=1
primitive ip ocf:heartbeat:Dummy op monitor interval=5s timeout=20s
primitive db ocf:heartbeat:Dummy op monitor interval=5s timeout=20s
group site ip db
tag frontend web ip
"""
# Where screenshots go: DEFIB_WEB_SCREENSHOTS=docs/img writes the documentation's pictures.
SHOTS = os.environ.get("DEFIB_WEB_SCREENSHOTS")


@dataclass
class WebCluster:
    directory: Path
    url: str            # https://127.0.0.1:PORT (no trailing slash)
    user: str           # the first login `defib web` printed
    password: str
    log: Path           # the web server's log (stderr)
    process: subprocess.Popen[bytes]
    sandboxes: Path     # the server's DEFIB_SANDBOX_DIR: this test run's, nobody else's

    def defib(self, *args: str, check: bool = True, input: str | None = None
              ) -> subprocess.CompletedProcess[str]:
        return defib(self.directory, *args, check=check, input=input,
                     sandboxes=self.sandboxes)

    def running_on(self, rsc: str) -> list[str]:
        """Where the Dummy agent's state file says ``rsc`` really runs."""
        return sorted(p.parent.parent.name
                      for p in self.directory.glob(f"*/run/Dummy-{rsc}.state"))


def defib(directory: Path, *args: str, check: bool = True, input: str | None = None,
          sandboxes: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``defib`` command on the cluster in ``directory`` (``sandboxes``: where its
    sandboxes are, as for the web server)."""
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(directory)}
    env.pop("CIB_file", None)
    if sandboxes is not None:
        env["DEFIB_SANDBOX_DIR"] = str(sandboxes)
    proc = subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          timeout=90, input=input)
    if check:
        assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def start_cluster(directory: Path, *args: str, attempts: int = 3) -> None:
    """``defib cluster start``, again on a fresh port when another cluster on this machine
    took the free port between the search and the bind."""
    for attempt in range(attempts):
        proc = defib(directory, "cluster", "start", *args, "--dir", str(directory),
                     check=False)
        if proc.returncode == 0:
            return
        if "Address already in use" not in proc.stdout + proc.stderr or attempt == attempts - 1:
            raise AssertionError(f"defib cluster start: {proc.stdout}{proc.stderr}")
        tear_down(directory)
        if "-n" in args:  # a new cluster file picks the ports again
            shutil.rmtree(directory, ignore_errors=True)


def browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is absent (pip install -e '.[dev]')"
    return None


# The web server and Chromium share a network namespace of their own when the tests run as
# root: Chromium aborts page loads when the machine's interfaces change ("network changed"),
# which other tests (hosts, the lab) do all the time. The server reaches the cluster through
# its unix sockets, which no network namespace hides; Playwright talks to Chromium on pipes.
NETNS = f"defib-web-{os.getpid()}"


def private_netns() -> str | None:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return None
    made = subprocess.run(["ip", "netns", "add", NETNS], capture_output=True)
    if made.returncode != 0:
        return None
    subprocess.run(["ip", "-n", NETNS, "link", "set", "lo", "up"], check=True)
    return NETNS


def in_netns(command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", NETNS, *command] if NETNS_MADE else command


NETNS_MADE: str | None = None


def start_web(directory: Path, log: Path, sandboxes: Path
              ) -> tuple[subprocess.Popen[bytes], str, str, str]:
    out = log.with_suffix(".out")
    # The users' sandboxes in this run's own directory, not the shared ~/.local/state.
    env = {**os.environ, "DEFIB_SANDBOX_DIR": str(sandboxes)}
    for name in ("CIB_file", "DEFIB_SANDBOX", "DEFIB_SANDBOX_ACTIVE"):
        env.pop(name, None)
    with open(out, "wb") as stdout, open(log, "wb") as stderr:
        # `ip netns exec` execs the command: the PID is the server's.
        process = subprocess.Popen(in_netns([*DEFIB, "web", "--dir", str(directory),
                                             "--port", "0"]), stdout=stdout, stderr=stderr,
                                   env=env)

    def printed() -> Any:
        assert process.poll() is None, f"defib web ended: {log.read_text()}"
        text = out.read_text()
        url = re.search(r"defib web: (https://\S+)/ ", text)
        login = re.search(r"first login: user (\S+) password (\S+)", text)
        return url and login and (url.group(1), login.group(1), login.group(2))

    url, user, password = until(printed, "defib web to print its address and login", 60)
    return process, url, user, password


@pytest.fixture(scope="session")
def web_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCluster]:
    global NETNS_MADE
    base = tmp_path_factory.mktemp("web")
    directory = base / "c"
    process = None
    NETNS_MADE = private_netns()
    try:
        start_cluster(directory, "-n", "2")
        script = base / "site.crm"
        script.write_text(CONFIG)
        defib(directory, "configure", "-f", str(script))
        defib(directory, "resource", "cleanup", "--wait", "--timeout", "60")
        sandboxes = base / "sandboxes"
        process, url, user, password = start_web(directory, base / "web.log", sandboxes)
        yield WebCluster(directory, url, user, password, base / "web.log", process, sandboxes)
    finally:
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
        tear_down(directory)
        if NETNS_MADE:
            subprocess.run(["ip", "netns", "delete", NETNS_MADE], capture_output=True)
            NETNS_MADE = None


@pytest.fixture(autouse=True)
def no_sandbox_left(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[None]:
    """Every test on the shared cluster starts and ends without a user sandbox: merely
    opening the Configuration page copies the cluster into one, and a copy an earlier test
    left, taken at an older configuration, would have a later commit refused as stale."""
    if "web_cluster" not in request.fixturenames:
        yield
        return
    cluster: WebCluster = request.getfixturevalue("web_cluster")
    monkeypatch.setenv("DEFIB_SANDBOX_DIR", str(cluster.sandboxes))
    from defib.sandbox import store

    def clear() -> None:
        for name in store.names():
            store.delete(name)

    clear()
    yield
    clear()


# Per module: Playwright's sync API keeps an event loop running in the main thread while it
# is open, which later tests calling asyncio.run would trip over.
@pytest.fixture(scope="module")
def browser(web_cluster: WebCluster, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Any]:
    missing = browser_missing()
    if missing:
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM
    if NETNS_MADE:
        # /usr/bin/chromium itself, started in the server's network namespace.
        executable = str(tmp_path_factory.mktemp("chromium") / "chromium")
        Path(executable).write_text(f'#!/bin/sh\nexec ip netns exec {NETNS_MADE} '
                                    f'{CHROMIUM} "$@"\n')
        os.chmod(executable, 0o755)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """The call's report on the test item, for the page fixture to know it failed."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page per test; the self-signed
    certificate is accepted as a user accepts it once."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280,
                                                                      "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    # What the browser saw go wrong, printed with a failing test's output: a failed
    # request or a navigation to an error page says more than the timeout it caused.
    seen: list[str] = []
    page.on("requestfailed", lambda r: seen.append(
        f"request failed: {r.method} {r.url}: {r.failure}"))
    page.on("framenavigated", lambda f: seen.append(f"navigated: {f.url}")
            if f == page.main_frame else None)
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    try:
        yield page
    finally:
        if request.node.stash.get(CALL_FAILED, False):
            print("\n".join(f"browser: {line}" for line in seen))
            try:
                print(f"page {page.url}:\n{page.inner_text('body', timeout=5_000)[:3000]}")
            except Exception as exc:  # noqa: BLE001 - only a diagnostic
                print(f"page {page.url}: unreadable ({exc})")
        context.close()


def goto(page: Any, url: str, attempts: int = 5) -> None:
    """``page.goto``, again when Chromium aborted it because the machine's network changed
    (other tests create and delete network namespaces and interfaces meanwhile)."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        try:
            page.goto(url)
            return
        except Error as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc) or attempt == attempts - 1:
                raise


def login(page: Any, cluster: WebCluster, user: str | None = None,
          password: str | None = None) -> None:
    """Log in through the form, as a person does, and wait for the live status."""
    goto(page, cluster.url + "/")
    page.fill("#login input[name=user]", user or cluster.user)
    page.fill("#login input[name=password]", password or cluster.password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#live.on")
    page.wait_for_selector("#nodes tr[data-node]")


def screenshot(page: Any, name: str, tmp: Path) -> Path:
    """``docs/img/web-NAME.png`` when DEFIB_WEB_SCREENSHOTS names that folder, else in tmp."""
    folder = Path(SHOTS) if SHOTS else tmp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"web-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for(what: Any, description: str, timeout: float = 30.0) -> Any:
    return until(what, description, timeout)

