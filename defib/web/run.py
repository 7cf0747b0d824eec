"""Starting the web server for a cluster directory: the certificate, the first user, the
listening socket, and what to tell the administrator (the address and the first login)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pwd
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from defib.acl.identity import identity_by_name
from defib.web.auth import Users, generate_password, web_dir
from defib.web.server import WebServer
from defib.web.tls import ensure_certificate, fingerprint, server_context

DEFAULT_PORT = 7630  # Hawk's port: where Pacemaker administrators look for a web interface


@dataclass(frozen=True)
class Options:
    directory: Path
    node: str | None = None
    bind: str = "127.0.0.1"
    port: int = DEFAULT_PORT


def admin_group(directory: Path) -> str:
    from defib.cluster.config import load_config
    from defib.cluster.local import CONFIG_NAME

    path = directory / CONFIG_NAME
    return load_config(path).admin_group if path.is_file() else "haclient"


def first_user_name(group: str) -> str:
    """An administrator's name the ACL gate recognises: ``hacluster`` (Pacemaker's, in the
    admin group) where it is, else the user this server runs as."""
    if identity_by_name("hacluster").is_admin(group):
        return "hacluster"
    return pwd.getpwuid(os.geteuid()).pw_name


def first_login(directory: Path, group: str) -> tuple[str, str] | None:
    """Create an administrator with a generated password when there is no web user yet."""
    users = Users.of(directory)
    if users.names():
        return None
    name, password = first_user_name(group), generate_password()
    users.add(name, password)
    return name, password


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Several daemons of a local cluster share one directory: one makes the certificate
    and the first user, the others use them."""
    where = web_dir(directory)
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(where / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


@dataclass
class Running:
    server: WebServer
    listening: asyncio.Server
    url: str

    async def stop(self) -> None:
        self.listening.close()
        await self.server.close_clients()
        assert self.server.watcher is not None
        await self.server.watcher.stop()
        self.server.pool.shutdown(wait=False, cancel_futures=True)
        self.server.live_pool.shutdown(wait=False, cancel_futures=True)


async def start(options: Options, say: Callable[[str], None]) -> Running:
    """Listen, and tell ``say`` the address, the certificate and (once) the first login."""
    directory = options.directory.resolve()
    group = admin_group(directory)

    def prepare() -> tuple[Path, Path, tuple[str, str] | None]:
        with _locked(directory):
            cert, key = ensure_certificate(web_dir(directory), [options.bind])
            return cert, key, first_login(directory, group)

    # Key generation, scrypt and the lock take a while: never on a daemon's event loop.
    cert, key, login = await asyncio.to_thread(prepare)
    server = WebServer(directory, options.node, admin_group=group)
    listening = await server.serve(options.bind, options.port, server_context(cert, key))
    port = listening.sockets[0].getsockname()[1]
    host = f"[{options.bind}]" if ":" in options.bind else options.bind
    url = f"https://{host}:{port}/"
    say(f"defib web: {url} (cluster {directory})")
    say(f"certificate SHA-256 {fingerprint(cert)}")
    if login is not None:
        say(f"first login: user {login[0]} password {login[1]} (shown once; change it with "
            f"'defib web user passwd {login[0]}')")
    return Running(server, listening, url)


async def serve(options: Options, say: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM (``defib web``)."""
    running = await start(options, say)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()
