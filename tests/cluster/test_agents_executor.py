"""The executor runs real agents: Debian's resource-agents, LSB scripts, hanging and
crashing test agents, recurring monitors, IPaddr2 in a network namespace."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import textwrap
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.executor import (
    ExecStatus,
    ExecutorConfig,
    LocalExecutor,
    OcfRc,
    Operation,
    OpResult,
    RecurringScheduler,
    ResourceInfo,
    record_op,
)
from defib.executor.env import OCF_ROOT, PACKAGE_AGENTS

HEARTBEAT = OCF_ROOT / "resource.d" / "heartbeat"
DUMMY = ResourceInfo("dummy1", "ocf", "Dummy", "heartbeat")

pytestmark = pytest.mark.skipif(
    not (HEARTBEAT / "Dummy").exists(), reason="Debian resource-agents is not installed"
)


def _write_agent(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    """A resource.d directory with test agents of provider "test"."""
    base = tmp_path / "resource.d"
    _write_agent(base / "test" / "Hang", """\
        # Ignores SIGTERM and leaves a child that ignores it too: only SIGKILL of the
        # whole group ends both.
        trap '' TERM
        sh -c "trap '' TERM; echo \\$\\$ > $HA_RSCTMP/hang-child.pid; exec sleep 300" &
        sleep 300
        """)
    _write_agent(base / "test" / "Crash", """\
        case "$OCF_RESKEY_how" in
          segv) kill -SEGV $$ ;;
          code) echo "ocf-exit-reason:went badly" >&2; exit 42 ;;
          reason) echo "ocf-exit-reason:bad parameter x" >&2; exit 6 ;;
        esac
        exit 0
        """)
    not_exec = base / "test" / "NotExecutable"
    not_exec.write_text("#!/bin/sh\nexit 0\n")
    not_exec.chmod(0o644)
    _write_agent(base / "test" / "Env", """\
        env | grep -E '^(OCF_|HA_)' | sort > "$HA_RSCTMP/env.txt"
        exit 0
        """)
    return base


def make_executor(tmp_path: Path, agents_dir: Path | None = None, **kw: object) -> LocalExecutor:
    path = (HEARTBEAT.parent,) + ((agents_dir,) if agents_dir else ()) + (PACKAGE_AGENTS / "ocf",)
    config = ExecutorConfig(node_name="n1", run_dir=tmp_path / "run-n1", ocf_ra_path=path,
                            kill_grace_s=0.5, **kw)  # type: ignore[arg-type]
    return LocalExecutor(config)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_dummy_start_monitor_stop_and_probe(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)

    async def scenario() -> list[OpResult]:
        return [
            await ex.run(Operation.probe(DUMMY)),
            await ex.run(Operation(DUMMY, "start")),
            await ex.run(Operation(DUMMY, "monitor", 10000)),
            await ex.run(Operation.probe(DUMMY)),
            await ex.run(Operation(DUMMY, "stop")),
            await ex.run(Operation(DUMMY, "monitor", 10000)),
        ]

    probe, start, mon, probe_running, stop, mon_after = run(scenario())
    assert (probe.rc, probe.status, probe.ok) == (OcfRc.NOT_RUNNING, ExecStatus.DONE, True)
    assert start.ok and start.rc == 0
    assert mon.rc == 0
    assert probe_running.rc == OcfRc.OK and not probe_running.ok  # found running: a surprise
    assert stop.rc == 0
    assert mon_after.rc == OcfRc.NOT_RUNNING and mon_after.failed
    # Dummy keeps its state in HA_RSCTMP: the node's own run-time directory.
    assert [r.call_id for r in (probe, start, mon, probe_running, stop, mon_after)] == [
        1, 2, 3, 4, 5, 6]


def test_state_is_per_node_run_dir(tmp_path: Path) -> None:
    n1 = make_executor(tmp_path)
    n2 = LocalExecutor(ExecutorConfig(node_name="n2", run_dir=tmp_path / "run-n2"))

    async def scenario() -> tuple[OpResult, OpResult]:
        await n1.run(Operation(DUMMY, "start"))
        return await n1.run(Operation.probe(DUMMY)), await n2.run(Operation.probe(DUMMY))

    on_n1, on_n2 = run(scenario())
    assert on_n1.rc == OcfRc.OK
    assert on_n2.rc == OcfRc.NOT_RUNNING
    assert (tmp_path / "run-n1" / "Dummy-dummy1.state").exists()


def test_ocf_environment(tmp_path: Path, agents_dir: Path) -> None:
    ex = make_executor(tmp_path, agents_dir)
    rsc = ResourceInfo("envtest", "ocf", "Env", "test")
    op = Operation(rsc, "monitor", 5000, 7000, params={"alpha": "1 2"},
                   meta={"on_node": "n1", "clone": "0"})
    assert run(ex.run(op)).rc == 0
    env = dict(line.split("=", 1) for line in
               (tmp_path / "run-n1" / "env.txt").read_text().splitlines())
    assert env["OCF_RESKEY_alpha"] == "1 2"
    assert env["OCF_RESKEY_CRM_meta_timeout"] == "7000"
    assert env["OCF_RESKEY_CRM_meta_interval"] == "5000"
    assert env["OCF_RESKEY_CRM_meta_name"] == "monitor"
    assert env["OCF_RESKEY_CRM_meta_on_node"] == "n1"
    assert env["OCF_RESKEY_CRM_meta_clone"] == "0"
    assert env["OCF_RESOURCE_INSTANCE"] == "envtest"
    assert env["OCF_RESOURCE_TYPE"] == "Env"
    assert env["OCF_RESOURCE_PROVIDER"] == "test"
    assert env["OCF_ROOT"] == str(OCF_ROOT)
    assert (env["OCF_RA_VERSION_MAJOR"], env["OCF_RA_VERSION_MINOR"]) == ("1", "1")
    assert env["HA_RSCTMP"] == str(tmp_path / "run-n1")
    assert env["HA_LOGFACILITY"] == "none"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_hanging_agent_is_killed_at_its_timeout(tmp_path: Path, agents_dir: Path) -> None:
    ex = make_executor(tmp_path, agents_dir)
    op = Operation(ResourceInfo("hang", "ocf", "Hang", "test"), "start", timeout_ms=1000)
    started = time.monotonic()
    result = run(ex.run(op))
    elapsed = time.monotonic() - started
    assert result.status == ExecStatus.TIMEOUT
    assert result.rc == OcfRc.UNKNOWN_ERROR
    assert result.failed
    # 1 s timeout + 0.5 s SIGTERM grace (both processes ignore SIGTERM), then SIGKILL.
    assert 1.0 <= elapsed < 3.0
    child = int((tmp_path / "run-n1" / "hang-child.pid").read_text())
    deadline = time.monotonic() + 2
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the agent's child survived the group kill"


def test_crashing_agents_are_failed_operations(tmp_path: Path, agents_dir: Path) -> None:
    ex = make_executor(tmp_path, agents_dir)
    crash = ResourceInfo("crash", "ocf", "Crash", "test")

    async def scenario() -> list[OpResult]:
        return [
            await ex.run(Operation(crash, "start", params={"how": "segv"})),
            await ex.run(Operation(crash, "start", params={"how": "code"})),
            await ex.run(Operation(crash, "start", params={"how": "reason"})),
            await ex.run(Operation(ResourceInfo("x", "ocf", "Missing", "test"), "start")),
            await ex.run(Operation(ResourceInfo("y", "ocf", "NotExecutable", "test"), "start")),
            await ex.run(Operation(ResourceInfo("z", "upstart", "foo"), "start")),
        ]

    segv, code, reason, missing, noexec, wrong_class = run(scenario())
    assert (segv.rc, segv.status) == (OcfRc.UNKNOWN_ERROR, ExecStatus.ERROR)
    assert "SIGSEGV" in segv.exit_reason
    assert (code.rc, code.status) == (OcfRc.UNKNOWN_ERROR, ExecStatus.DONE)
    assert code.exit_reason == "went badly"
    assert (reason.rc, reason.exit_reason) == (OcfRc.NOT_CONFIGURED, "bad parameter x")
    assert (missing.rc, missing.status) == (OcfRc.NOT_INSTALLED, ExecStatus.NOT_INSTALLED)
    assert (noexec.rc, noexec.status) == (OcfRc.INSUFFICIENT_PRIV, ExecStatus.ERROR)
    assert wrong_class.status == ExecStatus.NOT_SUPPORTED
    assert all(r.failed for r in (segv, code, reason, missing, noexec, wrong_class))


def test_lsb_script(tmp_path: Path) -> None:
    lsb_dir = tmp_path / "init.d"
    state = tmp_path / "lsb.state"
    _write_agent(lsb_dir / "demo-svc", f"""\
        case "$1" in
          start) touch {state}; exit 0 ;;
          stop) rm -f {state}; exit 0 ;;
          status) [ -f {state} ] && exit 0; exit 3 ;;
          *) exit 3 ;;
        esac
        """)
    ex = LocalExecutor(ExecutorConfig(node_name="n1", run_dir=tmp_path / "run",
                                      lsb_dir=lsb_dir))
    svc = ResourceInfo("svc", "lsb", "demo-svc")

    async def scenario() -> list[OpResult]:
        return [
            await ex.run(Operation.probe(svc)),
            await ex.run(Operation(svc, "start")),
            await ex.run(Operation(svc, "monitor", 10000)),
            await ex.run(Operation(svc, "stop")),
            await ex.run(Operation(svc, "monitor", 10000)),
            await ex.run(Operation(svc, "promote")),
        ]

    probe, start, mon, stop, mon2, promote = run(scenario())
    assert probe.rc == OcfRc.NOT_RUNNING and probe.ok  # LSB status 3 -> OCF 7
    assert start.rc == 0 and mon.rc == 0 and stop.rc == 0
    assert mon2.rc == OcfRc.NOT_RUNNING
    assert promote.status == ExecStatus.NOT_SUPPORTED
    meta = run(ex.metadata(svc))
    assert {a.name for a in meta.actions} >= {"start", "stop", "status"}


def test_metadata_is_parsed_and_cached(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)

    async def scenario():  # type: ignore[no-untyped-def]
        first, second = await asyncio.gather(ex.metadata(DUMMY), ex.metadata(DUMMY))
        return first, second, await ex.metadata(DUMMY)

    first, second, third = run(scenario())
    assert first is second is third
    assert [p.name for p in first.params][:2] == ["state", "fake"]
    assert first.param("state").unique
    assert first.default_timeout_ms("start") == 20000
    assert first.action("monitor").interval_ms == 10000
    policy = first.digest_policy
    assert policy.supports_legacy_reload and not policy.supports_reload_agent


def test_recurring_monitor_notices_a_failure(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)
    reports: list[OpResult] = []

    async def scenario() -> None:
        assert (await ex.run(Operation(DUMMY, "start"))).ok
        sched = RecurringScheduler(ex, reports.append, node_name="n1")
        loop = asyncio.create_task(sched.run_forever())
        sched.start(Operation(DUMMY, "monitor", 200))
        try:
            await asyncio.sleep(0.7)  # several runs, all rc 0: one report
            assert [r.rc for r in reports] == [0]
            (tmp_path / "run-n1" / "Dummy-dummy1.state").unlink()  # the "service" dies
            deadline = time.monotonic() + 3
            while len(reports) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # still failing: no further report
        finally:
            loop.cancel()
            with pytest.raises(asyncio.CancelledError):
                await loop

    run(scenario())
    assert [r.rc for r in reports] == [0, OcfRc.NOT_RUNNING]
    assert reports[1].failed
    assert reports[1].last_rc_change is not None


def test_recorded_status_reads_back_in_crm_simulate(tmp_path: Path) -> None:
    """Results recorded by record_op are read by Pacemaker's own scheduler as we mean
    them: the resource is started where we ran it, its monitor is known, and the digests
    match (a wrong op-digest would make crm_simulate restart it)."""
    crm_simulate = shutil.which("crm_simulate")
    if crm_simulate is None:
        pytest.skip("crm_simulate (pacemaker-cli-utils) is not installed")
    ex = make_executor(tmp_path)
    rsc = ResourceInfo("dummy1", "ocf", "Dummy", "heartbeat")
    params = {"fake": "abc"}
    tk = "{}:1:{}:" + str(uuid.uuid4())

    async def scenario() -> tuple[list[OpResult], object]:
        meta = await ex.metadata(rsc)
        results = [
            await ex.run(Operation(rsc, "monitor", 0, 20000, params,
                                   transition_key=tk.format(1, 7))),
            await ex.run(Operation(rsc, "start", 0, 20000, params,
                                   transition_key=tk.format(2, 0))),
            await ex.run(Operation(rsc, "monitor", 10000, 20000, params,
                                   transition_key=tk.format(3, 0))),
        ]
        return results, meta.digest_policy

    results, policy = run(scenario())
    cib = ET.fromstring("""
<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="1" num_updates="0"
     admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts">
      <nvpair id="opts-stonith" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/></nodes>
    <resources>
      <primitive id="dummy1" class="ocf" provider="heartbeat" type="Dummy">
        <instance_attributes id="dummy1-ia">
          <nvpair id="dummy1-ia-fake" name="fake" value="abc"/>
        </instance_attributes>
        <operations><op id="dummy1-mon" name="monitor" interval="10s" timeout="20s"/></operations>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member"
                expected="member" crm-debug-origin="test"/>
  </status>
</cib>""")
    node_state = cib.find("status/node_state")
    assert node_state is not None
    for result in results:
        record_op(node_state, rsc, result, policy=policy)  # type: ignore[arg-type]
    ops = {el.get("id"): el for el in node_state.iter("lrm_rsc_op")}
    assert set(ops) == {"dummy1_last_0", "dummy1_monitor_10000"}
    assert ops["dummy1_last_0"].get("operation") == "start"
    assert ops["dummy1_last_0"].get("op-force-restart") == "  state  "
    path = tmp_path / "cib.xml"
    ET.ElementTree(cib).write(path)
    out = subprocess.run([crm_simulate, "-S", "-x", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Started n1" in out.stdout or "Started: [ n1 ]" in out.stdout, out.stdout
    # Nothing to do at all: no restart (op-digest) and no re-created monitor (its digest
    # includes CRM_meta_timeout).
    actions = out.stdout.split("Transition Summary:")[1].split("Revised Cluster Status")[0]
    assert "dummy1" not in actions, out.stdout
    # A changed monitor timeout changes only the monitor's digest: Pacemaker re-creates
    # the monitor and leaves the resource alone.
    for op_el in cib.iter("op"):
        op_el.set("timeout", "30s")
    ET.ElementTree(cib).write(path)
    out = subprocess.run([crm_simulate, "-S", "-x", str(path)], capture_output=True,
                         text=True, timeout=60)
    actions = out.stdout.split("Transition Summary:")[1].split("Revised Cluster Status")[0]
    assert re.search(r"dummy1\s+monitor=10000 on n1", actions), out.stdout
    assert "Restart" not in actions, out.stdout
    for op_el in cib.iter("op"):
        op_el.set("timeout", "20s")
    # A changed reloadable parameter: op-digest differs but op-restart-digest does not,
    # so Pacemaker reloads.
    ia = cib.find("configuration/resources/primitive/instance_attributes")
    assert ia is not None
    fake = ia.find("nvpair")
    assert fake is not None
    fake.set("value", "changed")
    ET.ElementTree(cib).write(path)
    out = subprocess.run([crm_simulate, "-S", "-x", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert re.search(r"Reload\s+dummy1", out.stdout), out.stdout
    # A changed parameter that needs a restart ("state" is unique): both digests differ.
    ET.SubElement(ia, "nvpair", {"id": "dummy1-ia-state", "name": "state",
                                 "value": str(tmp_path / "other.state")})
    ET.ElementTree(cib).write(path)
    out = subprocess.run([crm_simulate, "-S", "-x", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert re.search(r"Restart\s+dummy1", out.stdout), out.stdout
    run(make_executor(tmp_path).run(Operation(rsc, "stop")))


@pytest.fixture
def netns() -> Iterator[str]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed")
    name = f"defib-t{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"ip netns is not permitted here: {made.stderr.strip()}")
    try:
        for cmd in (
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "-n", name, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b"],
            ["ip", "-n", name, "addr", "add", "198.18.7.1/24", "dev", "veth-a"],
            ["ip", "-n", name, "link", "set", "veth-a", "up"],
            ["ip", "-n", name, "link", "set", "veth-b", "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _addresses(ns: str) -> str:
    return subprocess.run(["ip", "-n", ns, "-o", "addr"], capture_output=True, text=True).stdout


def test_ipaddr2_in_a_network_namespace(tmp_path: Path, netns: str) -> None:
    ex = make_executor(tmp_path, netns=netns)
    ip = ResourceInfo("vip", "ocf", "IPaddr2", "heartbeat")
    params = {"ip": "198.18.7.10", "cidr_netmask": "24", "nic": "veth-a"}

    async def scenario() -> list[OpResult]:
        out = [await ex.run(Operation.probe(ip, params=params)),
               await ex.run(Operation(ip, "start", params=params))]
        addrs = _addresses(netns)
        out.append(await ex.run(Operation(ip, "monitor", 10000, params=params)))
        out.append(await ex.run(Operation(ip, "stop", params=params)))
        out.append(await ex.run(Operation(ip, "monitor", 10000, params=params)))
        assert "198.18.7.10/24" in addrs, addrs
        return out

    probe, start, mon, stop, mon2 = run(scenario())
    assert probe.rc == OcfRc.NOT_RUNNING, probe.stderr
    assert start.rc == 0, start.stderr
    assert mon.rc == 0
    assert stop.rc == 0
    assert mon2.rc == OcfRc.NOT_RUNNING
    assert "198.18.7.10" not in _addresses(netns)
    # The host's own namespace never saw the address.
    host = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert "198.18.7.10" not in host


def test_recorder_agent_logs_activations(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)
    rec = ResourceInfo("rec", "ocf", "Recorder", "defib")
    log_file = tmp_path / "activations.log"
    params = {"log": str(log_file)}

    async def scenario() -> list[OpResult]:
        meta = await ex.metadata(rec)
        assert meta.digest_policy.supports_reload_agent
        return [
            await ex.run(Operation.probe(rec, params=params)),
            await ex.run(Operation(rec, "start", params=params, meta={"on_node": "n1"})),
            await ex.run(Operation(rec, "start", params=params, meta={"on_node": "n1"})),
            await ex.run(Operation(rec, "monitor", 10000, params=params)),
            await ex.run(Operation(rec, "stop", params=params, meta={"on_node": "n1"})),
            await ex.run(Operation(rec, "stop", params=params, meta={"on_node": "n1"})),
            await ex.run(Operation(rec, "start", params={})),
        ]

    probe, start, start_again, mon, stop, stop_again, unconfigured = run(scenario())
    assert probe.rc == OcfRc.NOT_RUNNING
    assert start.rc == start_again.rc == mon.rc == stop.rc == stop_again.rc == 0
    assert unconfigured.rc == OcfRc.NOT_CONFIGURED and "log" in unconfigured.exit_reason
    lines = [ln.split() for ln in log_file.read_text().splitlines()]
    assert [(ln[0], ln[2], ln[3]) for ln in lines] == [("start", "n1", "rec"),
                                                      ("stop", "n1", "rec")]
    assert float(lines[0][1]) <= float(lines[1][1])


def test_cancelled_run_kills_the_agent(tmp_path: Path, agents_dir: Path) -> None:
    ex = make_executor(tmp_path, agents_dir)
    op = Operation(ResourceInfo("hang", "ocf", "Hang", "test"), "start", timeout_ms=60000)

    async def scenario() -> None:
        task = asyncio.create_task(ex.run(op))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    child = int((tmp_path / "run-n1" / "hang-child.pid").read_text())
    deadline = time.monotonic() + 2
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


@pytest.mark.skipif(not Path("/usr/sbin/fence_dummy").exists(), reason="no fence-agents")
def test_fencing_device_as_a_resource(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)
    dev = ResourceInfo("Fencing", "stonith", "fence_dummy")
    bad = ResourceInfo("Broken", "stonith", "fence_defib_local")  # no cluster: monitor fails
    params = {"pcmk_host_list": "n1 n2", "status_file": str(tmp_path / "fd.status")}

    async def scenario() -> list[OpResult]:
        meta = await ex.metadata(dev)
        assert meta.param("status_file") is not None
        return [
            await ex.run(Operation.probe(dev, params=params)),
            await ex.run(Operation(dev, "start", params=params)),
            await ex.run(Operation(dev, "monitor", 60000, params=params)),
            await ex.run(Operation(dev, "stop", params=params)),
            await ex.run(Operation(dev, "monitor", 60000, params=params)),
            await ex.run(Operation(bad, "start")),
        ]

    probe, start, mon, stop, mon2, broken = run(scenario())
    assert probe.rc == OcfRc.NOT_RUNNING and probe.ok
    assert start.ok and mon.rc == 0 and stop.ok
    assert mon2.rc == OcfRc.NOT_RUNNING
    assert broken.failed and broken.status == ExecStatus.ERROR and "exited 1" in broken.exit_reason


def test_bad_input_and_lost_run_dir_are_results_not_exceptions(tmp_path: Path) -> None:
    ex = make_executor(tmp_path)

    async def scenario() -> list[OpResult]:
        nul = await ex.run(Operation(DUMMY, "start", params={"fake": "a\0b"}))
        shutil.rmtree(tmp_path / "run-n1")  # the node "crashed": its run-time state is gone
        return [nul, await ex.run(Operation.probe(DUMMY)),
                await ex.run(Operation(DUMMY, "start"))]

    nul, probe, start = run(scenario())
    assert nul.failed and nul.status == ExecStatus.ERROR
    assert probe.rc == OcfRc.NOT_RUNNING and start.ok


def test_http_service_with_the_anything_agent(tmp_path: Path) -> None:
    """A daemon-starting agent (ocf:heartbeat:anything running a small HTTP server on a
    loopback address): start returns although the daemon holds the agent's output, the
    service answers, and stop ends it."""
    import socket
    import urllib.request

    with socket.socket() as probe_sock:
        probe_sock.bind(("127.0.0.1", 0))
        port = probe_sock.getsockname()[1]
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("defib says hello\n")
    ex = make_executor(tmp_path)
    web = ResourceInfo("web", "ocf", "anything", "heartbeat")
    params = {"binfile": shutil.which("python3") or "/usr/bin/python3",
              "cmdline_options": f"-m http.server {port} --bind 127.0.0.1",
              "workdir": str(tmp_path / "www"), "pidfile": str(tmp_path / "web.pid")}

    async def scenario() -> list[OpResult]:
        out = [await ex.run(Operation.probe(web, params=params)),
               await ex.run(Operation(web, "start", params=params))]
        body = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert body == "defib says hello\n"
        out.append(await ex.run(Operation(web, "monitor", 10000, params=params)))
        out.append(await ex.run(Operation(web, "stop", params=params)))
        out.append(await ex.run(Operation(web, "monitor", 10000, params=params)))
        return out

    pidfile = tmp_path / "web.pid"
    try:
        probe, start, mon, stop, mon2 = run(scenario())
    finally:
        if pidfile.exists():  # the test failed midway: end the server by its PID
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), 9)
    assert probe.rc == OcfRc.NOT_RUNNING
    assert start.ok and start.exec_ms < 10000
    assert mon.rc == 0 and stop.ok
    assert mon2.rc == OcfRc.NOT_RUNNING
