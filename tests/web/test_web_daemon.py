"""Every node's daemon serves the web interface when the cluster file sets ``web_port``:
each on its own address, with the same users and certificate (no browser needed here)."""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import re
import shutil
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from defib.cluster.config import render_config
from defib.cluster.local import create
from tests.cluster.cli_cluster import tear_down, until
from tests.web.conftest import start_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "c"
    try:
        for attempt in range(3):
            cfg = create(directory, 2)
            port = free_port("127.0.0.11")
            (directory / "cluster.toml").write_text(render_config(
                dataclasses.replace(cfg, web_port=port)))
            try:
                start_cluster(directory, attempts=1)
                break
            except AssertionError as exc:  # another cluster took the port meanwhile
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
                tear_down(directory)
                shutil.rmtree(directory, ignore_errors=True)
        yield directory
    finally:
        tear_down(directory)


def opener() -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed: its fingerprint is in the log
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                       urllib.request.HTTPCookieProcessor(
                                           http.cookiejar.CookieJar()))


def fetch(client: urllib.request.OpenerDirector, url: str, body: Any = None
          ) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with client.open(request, timeout=30) as answer:
        return dict(json.loads(answer.read()))


def test_each_daemon_serves_the_interface(served: Path) -> None:
    def printed() -> Any:
        logs = "".join((served / n / "daemon.log").read_text() for n in ("node1", "node2")
                       if (served / n / "daemon.log").exists())
        urls = sorted(set(re.findall(r"defib web: (https://\S+)/ ", logs)))
        login = re.search(r"first login: user (\S+) password (\S+)", logs)
        return len(urls) == 2 and login and (urls, login.group(1), login.group(2))

    urls, user, password = until(printed, "both daemons to serve the web interface", 60)
    assert [u.split("//")[1].split(":")[0] for u in urls] == ["127.0.0.11", "127.0.0.12"]
    for url in urls:  # one users file for the whole (local) cluster
        client = opener()
        assert fetch(client, url + "/api/login", {"user": user, "password": password})["ok"]
        status = until(lambda c=client, u=url: (s := fetch(c, u + "/api/status"))["ok"]
                       and len(s["nodes"]) == 2 and s, "the status from " + url, 30)
        assert {n["name"] for n in status["cib_nodes"]} == {"node1", "node2"}
