"""Files, directories and sockets that are private from the moment they exist.

The node's state holds the CIB (passwords in resource parameters included), the saved
scheduler inputs and the control socket. Creating them with default modes and tightening
them afterwards leaves a window in which another user can open them (and keep the open file
or connection), so every creation here asks for the final mode up front: directories 0700,
files 0600 through ``O_CREAT`` with mode 0600, sockets bound under umask 0177. The daemon
also runs under umask 077 (``DAEMON_UMASK``) so that whatever else it writes is private too;
the agents it starts get the usual 022 back (``AGENT_UMASK``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
DAEMON_UMASK = 0o077
AGENT_UMASK = 0o022
# umask is process-wide: two threads changing it at once would restore each other's value.
_UMASK_LOCK = threading.Lock()


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; tighten it when it already exists
    with a looser mode (a directory left by an older version, or made by hand)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for one in reversed(missing):  # Path.mkdir(parents=True) would give parents the umask's
        one.mkdir(mode=DIR_MODE, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & ~0o077)
    return path


def write_private(path: Path, data: bytes | str, fsync: bool = False) -> Path:
    """Write ``path`` atomically (temporary file, then rename), mode 0600 from creation."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    with _UMASK_LOCK:
        old = os.umask(mask)
        try:
            yield
        finally:
            os.umask(old)


def bind_unix(path: Path, mode: int = FILE_MODE) -> socket.socket:
    """A listening unix socket at ``path`` that has ``mode`` from its creation (bind creates
    the file with 0777 minus the umask; a chmod after it would come too late)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        path.unlink(missing_ok=True)
        with umask(0o777 & ~mode):
            sock.bind(str(path))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
