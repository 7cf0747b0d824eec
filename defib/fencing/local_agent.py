"""fence_defib_local: a fence agent that powers off a node of a local defib cluster.

A local cluster runs several "nodes" on one machine. Run as hosts (``defib cluster start
--hosts``, root), each node is a PID/mount/UTS/network namespace whose supply process
serves a power switch on ``<cluster dir>/<node>/power.sock``: ``off`` there kills the
node's PID namespace, and nothing of the node survives. Otherwise the launcher sets
``DEFIB_LOCAL_NODE=<cluster dir>:<node>`` in each node daemon's environment, and every
agent and child process a node starts inherits it: powering the node off means killing
(SIGKILL, no chance to clean up, as a power cut) every process that carries the marker,
which misses whatever dropped its environment (``su -``, ``env -i`` daemons).

It speaks the fence-agents stdin protocol (``name=value`` lines; ``action``, ``plug`` or
``port`` or ``nodename``, and ``cluster_dir``) and the usual command-line options
(``-o ACTION -n NODE``). Exit status: 0 success (for ``status``: node on), 2 for
``status`` of a node that is off, 1 on failure.

Only the standard library is used: the agent runs under any python3.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from typing import TextIO

MARKER = "DEFIB_LOCAL_NODE"
POWER_SOCKET = "power.sock"  # a host node's power switch, served by its supply process
HOSTS_FILE = "hosts.json"  # present when the cluster's nodes run as hosts
EXIT_OK, EXIT_FAIL, EXIT_OFF = 0, 1, 2

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_defib_local" shortdesc="Fence agent for local defib clusters">
<longdesc>Powers off a node of a local (single machine) defib cluster: a node run as a host
through its power switch (CLUSTER_DIR/NODE/power.sock), which kills the node's PID namespace;
otherwise by killing, with SIGKILL, every process whose environment carries
DEFIB_LOCAL_NODE=CLUSTER_DIR:NODE.</longdesc>
<vendor-url>https://github.com/defib</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<getopt mixed="-o, --action=[action]" />
		<content type="string" default="reboot" />
		<shortdesc lang="en">Fencing action</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="0" obsoletes="port">
		<getopt mixed="-n, --plug=[node]" />
		<content type="string" />
		<shortdesc lang="en">Name of the local node to fence</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="0" deprecated="1">
		<getopt mixed="-n, --plug=[node]" />
		<content type="string" />
		<shortdesc lang="en">Name of the local node to fence</shortdesc>
	</parameter>
	<parameter name="cluster_dir" unique="0" required="0">
		<getopt mixed="--cluster-dir=[dir]" />
		<content type="string" />
		<shortdesc lang="en">Directory of the local cluster (default: from the caller's \
own DEFIB_LOCAL_NODE)</shortdesc>
	</parameter>
	<parameter name="kill_timeout" unique="0" required="0">
		<getopt mixed="--kill-timeout=[seconds]" />
		<content type="second" default="10" />
		<shortdesc lang="en">Give up if processes remain after this long</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0"/>
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="list" />
	<action name="list-status" />
	<action name="monitor" />
	<action name="metadata" />
	<action name="validate-all" />
</actions>
</resource-agent>
"""


def marker_of(pid: int) -> str | None:
    """The DEFIB_LOCAL_NODE value in a process's environment (None when absent/unreadable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = handle.read()
    except OSError:
        return None  # gone, a kernel thread, or not ours to read
    prefix = MARKER.encode() + b"="
    for entry in data.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def _pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def processes_of(value: str, exclude: int | None = None) -> list[int]:
    """PIDs whose environment has exactly ``DEFIB_LOCAL_NODE=<value>``."""
    me = exclude if exclude is not None else os.getpid()
    return [pid for pid in _pids() if pid != me and marker_of(pid) == value]


def nodes_of(cluster_dir: str) -> set[str]:
    found = set()
    for pid in _pids():
        value = marker_of(pid)
        if value and value.rpartition(":")[0] == cluster_dir:
            found.add(value.rpartition(":")[2])
    return found


def power_off(value: str, timeout_s: float = 10.0) -> tuple[bool, int]:
    """SIGKILL every marked process until none is left; returns (done, how many killed).

    Scans again after each round: a process may fork between the scan and its kill, and
    its child inherits the marker.
    """
    killed = 0
    deadline = time.monotonic() + timeout_s
    while True:
        pids = processes_of(value)
        if not pids:
            return True, killed
        if time.monotonic() > deadline:
            return False, killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
            except PermissionError:
                return False, killed
        time.sleep(0.01)


def host_request(cluster_dir: str, node: str, request: str, timeout_s: float) -> str | None:
    """Ask a host node's power switch; None when nothing answers (the host is off)."""
    path = os.path.join(cluster_dir, node, POWER_SOCKET)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(path)
            conn.sendall(request.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                answer += chunk
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        # No switch, or one that died mid-answer: a supply exits only once its host is off.
        return None
    return answer.decode(errors="replace").strip()


def is_hosts_cluster(cluster_dir: str) -> bool:
    return os.path.exists(os.path.join(cluster_dir, HOSTS_FILE))


def node_is_on(cluster_dir: str, node: str) -> bool:
    if is_hosts_cluster(cluster_dir):
        answer = host_request(cluster_dir, node, "status", 5.0) or ""
        return answer.startswith("on")
    return bool(processes_of(f"{cluster_dir}:{node}"))


def power_off_node(cluster_dir: str, node: str, timeout_s: float = 10.0) -> tuple[bool, int]:
    """Power a node off by its switch (hosts) and/or by its marker; (done, processes killed).
    A host whose switch does not answer is off already (its supply dies with it)."""
    killed = 0
    if is_hosts_cluster(cluster_dir):
        try:
            answer = host_request(cluster_dir, node, "off", timeout_s)
        except OSError as exc:
            print(f"power switch of {node}: {exc}", file=sys.stderr)
            return False, 0
        if answer is not None:
            word, _, count = answer.partition(" ")
            if word != "off":
                return False, 0
            killed = int(count) if count.isdigit() else 0
    done, more = power_off(f"{cluster_dir}:{node}", timeout_s)
    return done, killed + more


def read_stdin_options(stream: TextIO) -> dict[str, str]:
    options: dict[str, str] = {}
    for raw in stream.read().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        options[name.strip()] = value.strip()
    return options


def parse_args(argv: list[str]) -> dict[str, str]:
    parser = argparse.ArgumentParser(prog="fence_defib_local", add_help=True)
    parser.add_argument("-o", "--action")
    parser.add_argument("-n", "--plug", "--port", dest="plug")
    parser.add_argument("--nodename")
    parser.add_argument("--cluster-dir", dest="cluster_dir")
    parser.add_argument("--kill-timeout", dest="kill_timeout")
    ns = parser.parse_args(argv)
    return {k: v for k, v in vars(ns).items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    options = parse_args(args) if args else read_stdin_options(sys.stdin)
    action = options.get("action", "reboot").lower()
    if action in ("metadata", "meta-data"):
        sys.stdout.write(METADATA)
        return EXIT_OK
    own = os.environ.get(MARKER, "")
    cluster_dir = options.get("cluster_dir") or own.rpartition(":")[0]
    if not cluster_dir:
        print("Failed: no cluster_dir given and no DEFIB_LOCAL_NODE to take it from",
              file=sys.stderr)
        return EXIT_FAIL
    node = options.get("plug") or options.get("port") or options.get("nodename") or ""
    try:
        timeout = float(options.get("kill_timeout", "10"))
    except ValueError:
        timeout = 10.0
    if action in ("monitor", "validate-all"):
        return EXIT_OK if os.path.isdir("/proc/self") else EXIT_FAIL
    if action in ("list", "list-status"):
        names = nodes_of(cluster_dir)
        if is_hosts_cluster(cluster_dir):
            names |= {n for n in os.listdir(cluster_dir)
                      if os.path.exists(os.path.join(cluster_dir, n, POWER_SOCKET))}
        for name in sorted(names):
            print(f"{name},{name}" + (",on" if action == "list-status" else ""))
        return EXIT_OK
    if not node:
        print(f"Failed: action {action} needs a node (plug=NAME)", file=sys.stderr)
        return EXIT_FAIL
    if action == "status":
        on = node_is_on(cluster_dir, node)
        print(f"Status: {'ON' if on else 'OFF'}")
        return EXIT_OK if on else EXIT_OFF
    if action == "on":
        # A local node is started by its launcher; "on" only confirms the agent works.
        print("Success: Powered ON (the local-cluster launcher restarts nodes)")
        return EXIT_OK
    if action in ("off", "reboot"):
        done, killed = power_off_node(cluster_dir, node, timeout)
        if not done:
            print(f"Failed: processes of {node} remain after killing {killed}", file=sys.stderr)
            return EXIT_FAIL
        print(f"Success: Powered OFF {node} ({killed} processes killed)")
        return EXIT_OK
    print(f"Failed: Unrecognised action '{action}'", file=sys.stderr)
    return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
