"""The API modules the web server mounts: each ``defib.web.api.<name>`` listed in ``MODULES``
exposes ``ROUTES: list[Route]`` (see ``defib.web.contract``). A module not present yet (a
page still being built on another branch) is skipped, as the CLI skips missing commands."""

from __future__ import annotations

import importlib

from defib.web.contract import Route

MODULES = [
    "status",
    "actions",
    # webedit's pages: the editing forms, the sandbox, history/explain, the constraint graph.
    "edit",
    "sandbox",
    "history",
    "graph",
]


def all_routes() -> list[Route]:
    routes: list[Route] = []
    for name in MODULES:
        full = f"{__name__}.{name}"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name == full:
                continue
            raise
        routes += list(module.ROUTES)
    return routes
