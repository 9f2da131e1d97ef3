"""Operator accounts: names, roles, argon2id password hashes in the archive.

argon2-cffi's ``PasswordHasher`` (argon2id, its RFC 9106 low-memory defaults) hashes and
verifies; hashes are re-computed when its parameters change. A verified (name, password)
is remembered for :data:`CACHE_S` under a keyed digest that lives only in this process,
so a script polling with HTTP Basic does not cost a full argon2 verification per request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.clock import iso_ms
from edge.station.archive import Archive

CACHE_S = 60.0
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role


MIN_PASSWORD = 10
"""Characters an operator's password needs at least: the board is reachable from the
control room's network, and a short one is guessed despite the login throttle."""


class Accounts:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.hasher = PasswordHasher()
        self._key = os.urandom(32)
        self._cache: dict[str, tuple[bytes, Role, float]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, role: Role, password: str, now: float) -> bool:
        """Create or update an account (audited); True when it is new."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
        hashed = self.hasher.hash(password)
        at = iso_ms(now)
        with self.archive.write() as tx:
            new = tx.put_user(name, role.value, hashed, at)
            tx.audit(at, "(command line)", "user add" if new else "user update", name, role.value)
        with self._lock:
            self._cache.pop(name, None)
        return new

    def verify(self, name: str, password: str, now: float) -> Account | None:
        digest = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[2] > now and hmac.compare_digest(hit[0], digest):
                return Account(name, hit[1])
        row = self.archive.user(name)
        if row is None:
            self.hasher.hash(password)  # the same time as a wrong password: no name probing
            return None
        role, hashed = row
        try:
            self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return None
        account = Account(name, Role(role))
        with self._lock:
            self._cache[name] = (digest, account.role, now + CACHE_S)
        return account
