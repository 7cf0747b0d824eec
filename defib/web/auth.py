"""Web logins: the users file, its salted scrypt hashes, sessions that expire, CSRF tokens.

A web user is a cluster user: its name is what the control socket's ACL gate judges (an
ACL target, or a system user in the admin group such as ``hacluster``). The users file only
proves who is at the browser; what that user may do is the cluster's decision.

The file (``DIR/web/users.json``, mode 0600) maps a name to ``{"hash": "scrypt$..."}``.
Sessions live in the server's memory: a restart logs everybody out, which is the safe side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defib.errors import CommandError

# scrypt with n=2**14, r=8, p=1: ~16 MiB and some tens of ms per check, the usual interactive
# setting; the parameters are stored in each hash so that they can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]{0,63}$")
IDLE_S = 30 * 60          # a session unused this long is over
ABSOLUTE_S = 12 * 3600    # and every session ends after this long, used or not
USERS_FILE = "users.json"


def web_dir(directory: Path) -> Path:
    """Where the web server keeps its private files in a cluster directory."""
    return directory / "web"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(bytes.fromhex(digest)))
    except ValueError:  # a damaged entry never matches
        return False
    return hmac.compare_digest(got.hex(), digest)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@dataclass
class Users:
    """The users file of one cluster directory."""

    path: Path

    @classmethod
    def of(cls, directory: Path) -> Users:
        return cls(web_dir(directory) / USERS_FILE)

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the web users file {self.path}: {exc}",
                               str(self.path), code="web-users") from exc
        return {str(k): dict(v) for k, v in dict(data.get("users", {})).items()}

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        with os.fdopen(fd, "w") as fh:  # mkstemp creates it 0600: never readable by others
            json.dump({"users": users}, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, name: str, password: str) -> None:
        if not NAME.match(name):
            raise CommandError(f"{name!r} is not a valid user name (letters, digits, _ . @ -)",
                               name, code="web-user-name")
        users = self._load()
        if name in users:
            raise CommandError(f"web user {name} exists already (use passwd)", name,
                               code="web-user-exists")
        users[name] = {"hash": hash_password(password)}
        self._save(users)

    def passwd(self, name: str, password: str) -> None:
        users = self._load()
        if name not in users:
            raise CommandError(f"no web user {name}", name, code="web-user-unknown")
        users[name]["hash"] = hash_password(password)
        self._save(users)

    def delete(self, name: str) -> None:
        users = self._load()
        if users.pop(name, None) is None:
            raise CommandError(f"no web user {name}", name, code="web-user-unknown")
        self._save(users)

    def verify(self, name: str, password: str) -> bool:
        entry = self._load().get(name)
        if entry is None:
            # The same work for an unknown name: the answer's timing does not tell names.
            check_password(password, _DUMMY_HASH)
            return False
        return check_password(password, str(entry.get("hash", "")))


_DUMMY_HASH = hash_password("not a password", b"0" * 16)


@dataclass
class Session:
    token: str
    csrf: str
    user: str
    created: float
    seen: float


@dataclass
class Sessions:
    """Logged-in browsers, by the secret in their cookie."""

    idle_s: float = IDLE_S
    absolute_s: float = ABSOLUTE_S
    clock: Any = time.monotonic
    _by_token: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now, now)
        self._by_token[session.token] = session
        self._expire(now)
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (and it counts as used now), or None."""
        if not token:
            return None
        session = self._by_token.get(token)
        now = self.clock()
        if session is None:
            return None
        if now - session.seen > self.idle_s or now - session.created > self.absolute_s:
            del self._by_token[token]
            return None
        session.seen = now
        return session

    def alive(self, token: str) -> bool:
        """Whether ``token``'s session is still on, without counting this as use (an open
        page's event stream does not keep a session alive)."""
        session = self._by_token.get(token)
        now = self.clock()
        return session is not None and now - session.seen <= self.idle_s \
            and now - session.created <= self.absolute_s

    def end(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)

    def end_user(self, user: str) -> None:
        for token in [t for t, s in self._by_token.items() if s.user == user]:
            del self._by_token[token]

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._by_token.items()
                      if now - s.seen > self.idle_s or now - s.created > self.absolute_s]:
            del self._by_token[token]


def csrf_ok(session: Session, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(session.csrf, header)
