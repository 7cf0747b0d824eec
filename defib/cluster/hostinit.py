"""The power supply and init of one local node run as a small host (see ``hosts``).

    python -m defib.cluster.hostinit --dir DIR --node NAME --index I --links L --tag TAG \
        -- DAEMON COMMAND...

Two processes:

* the **supply** stays on the machine (its PID namespace and network): it creates the
  host's PID namespace, plugs one veth pair per link into the cluster's bridges, and then
  serves ``DIR/<node>/power.sock``, the host's power switch. ``off`` there SIGKILLs the
  host's init, which makes the kernel kill every process of the PID namespace, whatever
  it did with sessions, users or double forks; the answer comes once none is left.
* the **init** is PID 1 of the new PID namespace, with its own mount, UTS and network
  namespaces: a fresh ``/proc`` and ``/sys``, ``/run`` bind-mounted from
  ``DIR/<node>/run`` (visible from outside), the node's name as hostname, address
  198.18.<link>.<10+index>/24 on ``eth<link>``. It runs the daemon and reaps orphans; when
  the daemon exits, so does the host (the kernel kills what is left). It dies with the
  supply (``PR_SET_PDEATHSIG``), so SIGKILL of the supply is a power cut too.
  With ``--corosync`` the host also runs Corosync before the daemon, as a machine's
  corosync.service: its own ``/etc/corosync`` and ``/var/lib/corosync`` (bind-mounted from
  ``DIR/<node>/corosync/{etc,lib}``) and ``/dev/shm`` (libqb's IPC buffers), its log in
  ``DIR/<node>/corosync.log``; a clean stop of the daemon stops Corosync cleanly too.

Linux only, root only; the standard library (ctypes) only, as Python 3.11 has no
``os.unshare``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from defib.cluster.private import write_private
from defib.fencing.local_agent import POWER_SOCKET

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x20000000, \
    0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
HOST_RECORD = "host.json"
POWER_LOG = "power.log"  # "off|down <epoch>" lines: when the host went down

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, flags: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(flags)), "setns")


def mount(source: str, target: str, fstype: str | None, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags), None),
           f"mount {target}")


def node_address(index: int, link: int) -> str:
    """Link ``link`` address of node ``index`` (inside 198.18.0.0/15, never private ranges)."""
    return f"198.18.{link}.{10 + index}"


def host_veth(tag: str, index: int, link: int) -> str:
    return f"dfb{tag}n{index}l{link}"  # <= 15 characters for index < 1000


def bridge_name(tag: str, link: int) -> str:
    return f"dfb{tag}b{link}"


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def members(namespace: str) -> list[int]:
    """Every process (machine PIDs) whose PID namespace is ``namespace``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and pid_namespace(int(name)) == namespace:
            out.append(int(name))
    return out


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


# -- init: PID 1 of the host ------------------------------------------------------------------
def _setup_host(args: argparse.Namespace) -> None:
    state = Path(args.dir) / args.node
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing of ours leaks to the machine
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # our interfaces
    run = state / "run"
    run.mkdir(parents=True, exist_ok=True)
    mount(str(run), "/run", None, MS_BIND)
    if args.corosync:
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV)
        for mine, there in (("etc", "/etc/corosync"), ("lib", "/var/lib/corosync")):
            mount(str(state / "corosync" / mine), there, None, MS_BIND)
    socket.sethostname(args.node)
    _ip("link", "set", "lo", "up")
    for link in range(args.links):
        _ip("addr", "add", f"{node_address(args.index, link)}/24", "dev", f"eth{link}")
        _ip("link", "set", f"eth{link}", "up")


class Init:
    """Runs the daemon and reaps. The host goes down with a daemon that exits (a clean stop,
    or a refusal to start) or with anything after a stop request; a daemon killed by a
    signal (a crash) leaves the host up, its resources running, until the supply asks for
    a new daemon (``start``)."""

    def __init__(self, command: list[str], commands: int, corosync_log: Path | None = None
                 ) -> None:
        self.command = command
        self.commands = commands  # the supply's requests, one byte each
        self.daemon: int | None = None
        self.stopping = False
        self.start_when_reaped = False
        self.lock = threading.Lock()
        self.corosync_log = corosync_log
        self.corosync: int | None = None

    def spawn_corosync(self) -> None:
        assert self.corosync_log is not None
        log = os.open(self.corosync_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.dup2(log, 1)
            os.dup2(log, 2)
            try:
                os.execvp("corosync", ["corosync", "-f"])
            except OSError as exc:  # the daemon then says it cannot reach corosync
                os.write(2, f"defib host: cannot run corosync: {exc}\n".encode())
            os._exit(127)
        os.close(log)
        self.corosync = pid

    def stop_corosync(self, timeout: float = 5.0) -> None:
        """SIGTERM: Corosync leaves the ring at once, the others need not wait for a token
        timeout (as at a clean shutdown of a machine)."""
        if self.corosync is None:
            return
        try:
            os.kill(self.corosync, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(self.corosync, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                return
            time.sleep(0.02)

    def spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.execvp(self.command[0], self.command)
        self.daemon = pid

    def listen(self) -> None:
        while (request := os.read(self.commands, 1)) != b"":
            if request != b"d":
                continue
            with self.lock:
                if self.stopping:
                    continue
                if self.daemon is None:
                    self.spawn()
                else:
                    # A daemon killed a moment ago may not be reaped yet: start the new one
                    # once it is, rather than drop the request.
                    self.start_when_reaped = True

    def stop(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.daemon is not None:
            try:
                os.kill(self.daemon, signum)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.stop)
        if self.corosync_log is not None:
            self.spawn_corosync()  # the daemon waits for it to answer
        self.spawn()
        threading.Thread(target=self.listen, daemon=True).start()
        while True:  # reap every orphan
            try:
                pid, status = os.wait()
            except ChildProcessError:
                if self.stopping:
                    return 0
                time.sleep(0.05)  # no child at all: wait for a stop or a new daemon
                continue
            except InterruptedError:
                continue
            if pid == self.corosync:
                self.corosync = None
            with self.lock:
                if pid != self.daemon:
                    continue
                self.daemon = None
                code = os.waitstatus_to_exitcode(status)
                if code >= 0 or self.stopping:
                    self.stop_corosync()
                    return code  # the kernel kills whatever is left
                if self.start_when_reaped:
                    self.start_when_reaped = False
                    self.spawn()


def _init(args: argparse.Namespace, go: int) -> int:
    if os.read(go, 1) != b"1":  # the supply could not plug the links: nothing to run
        return 1
    _setup_host(args)
    corosync_log = Path(args.dir) / args.node / "corosync.log" if args.corosync else None
    return Init(args.command, go, corosync_log).run()


# -- supply: the machine side ---------------------------------------------------------------------
class Supply:
    def __init__(self, args: argparse.Namespace, init_pid: int, commands: int) -> None:
        self.args = args
        self.init_pid = init_pid
        self.commands = commands  # to the init
        self.state = Path(args.dir) / args.node
        self.namespace = pid_namespace(init_pid) or ""
        self.lock = threading.Lock()
        self.off = False
        self.answered = threading.Event()

    def plug(self) -> None:
        for link in range(self.args.links):
            veth = host_veth(self.args.tag, self.args.index, link)
            _ip("link", "del", veth, check=False)  # left by a host whose netns is dying
            _ip("link", "add", veth, "type", "veth", "peer", "name", f"eth{link}",
                "netns", str(self.init_pid))
            _ip("link", "set", veth, "master", bridge_name(self.args.tag, link))
            _ip("link", "set", veth, "up")

    def unplug(self) -> None:
        # One ip process for every link (-force: go on past links already gone).
        lines = "".join(f"link del {host_veth(self.args.tag, self.args.index, link)}\n"
                        for link in range(self.args.links))
        subprocess.run(["ip", "-force", "-batch", "-"], input=lines, capture_output=True,
                       text=True)

    def power_off(self) -> int:
        """SIGKILL the init; return once no process of the host is left (how many there were)."""
        with self.lock:
            count = len(members(self.namespace)) if self.namespace else 0
            self.off = True
            # Off the wire first, as a power cut: no port-unreachable answer from a dying
            # stack tells the peers (a real host that loses power goes silent).
            self.unplug()
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while self.namespace and members(self.namespace):
                time.sleep(0.005)
            self.log_power("off")
            return count

    def log_power(self, event: str) -> None:
        """Append when the host went down (wall clock, as the agents' own logs): audits
        end whatever ran on the host at that moment."""
        with open(self.state / POWER_LOG, "a") as log:
            log.write(f"{event} {time.time():.6f}\n")

    def serve(self) -> None:
        path = self.state / POWER_SOCKET
        path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        os.chmod(path, 0o600)
        server.listen(8)
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            conn, _ = server.accept()
            with conn:
                request = conn.recv(64).decode(errors="replace").strip()
                if request == "off":
                    count = self.power_off()
                    self.clear()
                    try:
                        conn.sendall(f"off {count}\n".encode())
                    finally:
                        self.answered.set()
                elif request == "start" and not self.off:
                    os.write(self.commands, b"d")  # a new daemon, if it has none
                    conn.sendall(b"starting\n")
                elif request == "status" and self.off:
                    conn.sendall(b"off 0\n")
                elif request == "status":
                    conn.sendall(f"on {self.init_pid} {self.namespace}\n".encode())
                else:
                    conn.sendall(b"error unknown request\n")

    def record(self) -> None:
        data = {"supply_pid": os.getpid(), "init_pid": self.init_pid,
                "pid_namespace": self.namespace, "hostname": self.args.node,
                "addresses": [node_address(self.args.index, link)
                              for link in range(self.args.links)]}
        # Private as the rest of the node's state (a careless umask must not widen it).
        write_private(self.state / HOST_RECORD, json.dumps(data) + "\n")

    def clear(self) -> None:
        for name in (POWER_SOCKET, HOST_RECORD):
            (self.state / name).unlink(missing_ok=True)


def _supply(args: argparse.Namespace) -> int:
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    unshare(CLONE_NEWPID)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    init_pid = os.fork()
    if init_pid == 0:
        os.close(ready_r)
        os.close(go_w)
        # Should the supply die before this, the read of ``go`` finds EOF: we stop there.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET)
        os.write(ready_w, b"1")
        os.close(ready_w)
        try:
            code = _init(args, go_r)
        except BaseException as exc:  # PID 1 must not leave a traceback: say what failed
            print(f"defib host {args.node}: init failed: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    # Our own later children (``ip``) must not land in the host's namespace.
    setns(own_pid_ns, CLONE_NEWPID)
    os.close(ready_w)
    os.close(go_r)
    supply = Supply(args, init_pid, go_w)
    if os.read(ready_r, 1) != b"1":
        return 1
    try:
        supply.plug()
    except OSError as exc:
        print(f"defib host {args.node}: {exc}", file=sys.stderr)
        os.write(go_w, b"0")
        os.waitpid(init_pid, 0)
        supply.unplug()
        return 1
    supply.record()
    supply.serve()
    os.write(go_w, b"1")

    def forward(signum: int, _frame: object) -> None:
        if not supply.off:
            try:
                os.kill(init_pid, signum)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(init_pid, 0)
            break
        except InterruptedError:
            continue
    with supply.lock:  # a power off in progress finishes first
        supply.clear()
        supply.unplug()
        if not supply.off:
            supply.log_power("down")
    if supply.off:
        supply.answered.wait(5.0)  # and its caller gets the answer before we go
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="defib-hostinit")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--links", type=int, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--corosync", action="store_true",
                        help="run corosync in the host before the daemon")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("no daemon command after --")
    try:
        return _supply(args)
    except OSError as exc:
        print(f"defib host {args.node}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
