"""Failover after a node crash on three stacks, side by side, on the same kind of hosts.

    python -m bench.stacks [--rounds 3] [--json FILE] [--only defib-heartbeat,...]

Each round is a fresh 3-node cluster of hosts (own network, mount, UTS and PID namespaces
on a 198.18 bridge; root), one ``ocf:heartbeat:Dummy`` with a 2 s monitor (the lab's
resource), then a power cut of the host running it (cables pulled, every process of the host
killed, Corosync included) and the time until a survivor reports it started elsewhere:

* ``defib-heartbeat``: defib on its own layer (default timing: a silent node is lost after
  ``dead_time`` = 2 s);
* ``defib-corosync``: defib on Corosync 3 (``stack = "corosync"``);
* ``pacemaker``: Pacemaker 2.1.5 on Corosync 3, as ../shared/labs/pacemaker-netns.

Both Corosync stacks use the lab's fastest settings: knet, token 1000, token_coefficient 0,
no crypto (``--corosync-defaults``: token 3000, token_coefficient 650).
``stonith-enabled=false`` everywhere (the lab's Pacemaker runs without fencing);
the ``-fenced`` variants of defib fence the victim with ``fence_defib_local`` before the
recovery (``--fencing``). Detection is polled every 20 ms (defib: the CIB through the
control socket; Pacemaker: ``crm_resource --locate`` in a survivor, about 30-60 ms a call).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from defib.cluster import hosts
from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.corosync import conf as corosync_conf
from defib.cluster.corosync.conf import TotemOptions
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.fencing.local_agent import power_off_node

RSC = "dummy"
NAMES = ("node1", "node2", "node3")
# The lab's fastest Corosync settings, for both Corosync stacks.
LAB_TOTEM = TotemOptions(token_ms=1000, token_coefficient_ms=0, crypto=False,
                         to_syslog=False)
# Corosync's own defaults (token 3000, token_coefficient 650), with --corosync-defaults.
DEFAULT_TOTEM = TotemOptions(crypto=False, to_syslog=False)
TOTEM = {"totem": LAB_TOTEM}


def defib_round(tmp: Path, stack: str, fencing: bool) -> float:
    resources = primitive(RSC, "ocf", "Dummy", "heartbeat", monitor="2s")
    if fencing:
        resources = fence_device() + resources
    totem = TOTEM["totem"] if stack == "corosync" else None
    with ResourceCluster(tmp / "c", 3, hosts=True, stack=stack, totem=totem) as rc:
        rc.load(cib_xml(resources, properties={"stonith-enabled": str(fencing).lower()}))
        home, _ = rc.wait_running(RSC, timeout=60)
        time.sleep(3.0)  # settled: probes and the first monitors done
        t0 = rc.crash(home)
        rc.wait_running(RSC, not_on={home}, timeout=60, poll=0.02)
        return time.monotonic() - t0


# -- Pacemaker on Corosync in hosts ------------------------------------------------------------
class PacemakerHosts:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True)
        hosts.enable(self.dir, 1, corosync=True)
        nodes = tuple(NodeConfig(i, n, hosts.addresses(i, 1)) for i, n in enumerate(NAMES, 1))
        cfg = ClusterConfig(name="pcmkbench", nodes=nodes, key_file=self.dir / "none",
                            state_dir=self.dir)
        self.conf = corosync_conf.render(cfg, TOTEM["totem"])

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DEFIB_LOCAL_NODE"}
        for index, name in enumerate(NAMES, 1):
            base = self.dir / name
            (base / "corosync/etc").mkdir(parents=True)
            (base / "corosync/lib").mkdir()
            (base / "corosync/etc/corosync.conf").write_text(self.conf)
            lib, log = base / "pcmk-lib", base / "pcmk-log"
            for sub in ("cib", "pengine", "blackbox", "cores"):
                (lib / sub).mkdir(parents=True)
            log.mkdir()
            for path in (lib, *lib.iterdir(), log):
                shutil.chown(path, "hacluster", "haclient")
                path.chmod(0o750)
            script = (f"mount --bind {lib} /var/lib/pacemaker && mount --bind {log}"
                      " /var/log/pacemaker && sleep 1 && exec env"
                      " PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd")
            with open(base / "pacemakerd.out", "ab") as out:
                hosts.spawn(self.dir, name, index, ["sh", "-c", script], env, out)

    def run(self, name: str, *cmd: str) -> str:
        record = hosts.host_record(self.dir, name)
        if record is None:
            return ""
        done = subprocess.run(["nsenter", "-t", str(record["init_pid"]), "-m", "-u", "-n",
                               "--", *cmd], capture_output=True, text=True, timeout=30)
        return done.stdout

    def locate(self, observer: str) -> str | None:
        out = self.run(observer, "crm_resource", "--locate", "-r", RSC)
        for word in ("node1", "node2", "node3"):
            if f"running on: {word}" in out:
                return word
        return None

    def wait(self, what: str, check: Callable[[], bool], timeout: float, poll: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"pacemaker: {what} not within {timeout}s")
            time.sleep(poll)

    def stop(self) -> None:
        for name in NAMES:
            power_off_node(str(self.dir), name, 5.0)
        hosts.teardown(self.dir)


def pacemaker_round(tmp: Path) -> float:
    cluster = PacemakerHosts(tmp / "pcmk")
    try:
        cluster.start()
        cluster.wait("a DC", lambda: 'present="true"' in cluster.run(
            "node1", "crm_mon", "-1", "--output-as=xml"), timeout=120, poll=1.0)
        cluster.run("node1", "crm_attribute", "-t", "crm_config", "-n", "stonith-enabled",
                    "-v", "false")
        cluster.run("node1", "cibadmin", "-C", "-o", "resources", "-X",
                    f'<primitive id="{RSC}" class="ocf" provider="heartbeat" type="Dummy">'
                    f'<operations><op id="{RSC}-mon" name="monitor" interval="2s"/>'
                    "</operations></primitive>")
        cluster.wait("dummy running", lambda: cluster.locate("node1") is not None,
                     timeout=60, poll=0.5)
        time.sleep(3.0)
        home = cluster.locate("node1")
        assert home is not None
        observer = next(n for n in NAMES if n != home)
        t0 = time.monotonic()
        power_off_node(str(cluster.dir), home, 5.0)
        cluster.wait("failover", lambda: cluster.locate(observer) not in (None, home),
                     timeout=60, poll=0.02)
        return time.monotonic() - t0
    finally:
        cluster.stop()


VARIANTS: dict[str, Callable[[Path], float]] = {
    "defib-heartbeat": lambda tmp: defib_round(tmp, "heartbeat", False),
    "defib-corosync": lambda tmp: defib_round(tmp, "corosync", False),
    "pacemaker": pacemaker_round,
    "defib-heartbeat-fenced": lambda tmp: defib_round(tmp, "heartbeat", True),
    "defib-corosync-fenced": lambda tmp: defib_round(tmp, "corosync", True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated variants")
    parser.add_argument("--fencing", action="store_true", help="add the fenced defib runs")
    parser.add_argument("--corosync-defaults", action="store_true",
                        help="Corosync's default token (3000 + 650 per node above 2)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.corosync_defaults:
        TOTEM["totem"] = DEFAULT_TOTEM
    names = [n for n in (args.only.split(",") if args.only else VARIANTS)
             if args.only or args.fencing or not n.endswith("-fenced")]
    results: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        for name in names:  # interleaved: the machine's load hits every stack alike
            with tempfile.TemporaryDirectory(prefix="defib-bench-stacks-") as tmp:
                seconds = VARIANTS[name](Path(tmp))
            results.setdefault(name, []).append(seconds)
            print(f"round {round_ + 1} {name}: {seconds:.3f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    for name, times in results.items():
        print(f"{name:24s} median {statistics.median(times):.3f} s  "
              f"({', '.join(f'{t:.2f}' for t in times)})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
