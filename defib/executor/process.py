"""Running one agent process: its own process group, a timeout, bounded output."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessOutcome:
    """How a child ended. Exactly one of ``exit_code``, ``signal``, ``spawn_error`` or
    ``timed_out`` describes it."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    spawn_error: OSError | None
    stdout: str
    stderr: str
    elapsed_ms: int


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _output_file() -> IO[bytes]:
    """An anonymous file for a child's output: in memory (``memfd``) where the system has
    it, as creating a file on disk for every agent call costs more than the call itself."""
    try:
        fd = os.memfd_create("defib-agent-output", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return tempfile.TemporaryFile()
    return open(fd, "w+b")


_pidfd_loop: asyncio.AbstractEventLoop | None = None


def wait_children_on_loop() -> None:
    """Python 3.11 waits for each child in a thread of its own (``ThreadedChildWatcher``):
    with hundreds of agent calls a second, starting those threads is a good part of what
    a call costs the daemon. A pidfd (Linux 5.3+) lets the event loop itself wait for the
    child, as Python 3.12 does by default. The watcher is process-wide: a daemon installs
    it for its one loop at start (a library call must not, or any later loop of the same
    process, a test's or a browser driver's, could no longer start children)."""
    global _pidfd_loop
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    loop = asyncio.get_running_loop()
    if _pidfd_loop is loop:
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # an old kernel or a sandbox without it: keep the threads
        _pidfd_loop = loop
        return
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)
    _pidfd_loop = loop


def _read_bounded(handle: IO[bytes], limit: int) -> str:
    handle.seek(0)
    data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > limit else "")


async def run_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout_s: float,
    *,
    cwd: Path | None = None,
    stdin_data: bytes | None = None,
    kill_grace_s: float = 1.0,
    max_output: int = 256 * 1024,
) -> ProcessOutcome:
    """Run ``argv`` in a new session (so in its own process group) and wait for it.

    Output goes to anonymous files, not pipes: agents that start daemons leave those
    holding the descriptors, and Pacemaker waits for the agent, not for end of file.
    At the timeout the whole group gets SIGTERM, then SIGKILL after ``kill_grace_s``.
    """
    started = time.monotonic()
    with _output_file() as out_f, _output_file() as err_f:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=(asyncio.subprocess.PIPE if stdin_data is not None
                       else asyncio.subprocess.DEVNULL),
                stdout=out_f,
                stderr=err_f,
                env=dict(env),
                cwd=str(cwd) if cwd else None,
                start_new_session=True,
                # The daemon's own umask (077) keeps its files private; agents get the usual.
                umask=0o022,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
            error = exc if isinstance(exc, OSError) else OSError(str(exc))
            return ProcessOutcome(None, None, False, error, "", "", 0)
        timed_out = False
        try:
            if stdin_data is not None and proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proc.stdin.write(stdin_data)
                    await proc.stdin.drain()
                proc.stdin.close()
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            log.warning("pid %d (%s) timed out after %.1fs: killing its group",
                        proc.pid, argv[0], timeout_s)
            await _terminate(proc, kill_grace_s)
        except BaseException:
            # Cancelled by the caller (daemon shutdown, op cancel): never leave it running.
            await asyncio.shield(_terminate(proc, kill_grace_s))
            raise
        code = proc.returncode
        elapsed = int((time.monotonic() - started) * 1000)
        return ProcessOutcome(
            exit_code=code if code is not None and code >= 0 and not timed_out else None,
            signal=-code if code is not None and code < 0 and not timed_out else None,
            timed_out=timed_out,
            spawn_error=None,
            stdout=_read_bounded(out_f, max_output),
            stderr=_read_bounded(err_f, max_output),
            elapsed_ms=elapsed,
        )


async def _terminate(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        pass
    # Children that ignored SIGTERM (or the agent itself) go now.
    _kill_group(proc.pid, signal.SIGKILL)
    await proc.wait()
