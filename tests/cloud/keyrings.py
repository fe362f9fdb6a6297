"""Keyring backends for tests: no OS keyring daemon can run here, so these stand in for one —
a working keyring kept in memory, a locked one that hangs, one that forgets. A headless box is
keyring's own `fail` backend (see the `no_keyring` fixture in conftest.py)."""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """A working keyring that keeps passwords in this process (stands in for the OS one)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


class HangingKeyring(KeyringBackend):
    """A locked keyring: every call waits for an unlock that never comes (until released)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self.release.wait(60)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.get_password(service, username)

    def delete_password(self, service: str, username: str) -> None:
        self.get_password(service, username)


class ForgetfulKeyring(MemoryKeyring):
    """Accepts a password and keeps nothing (what an empty keyring chain does)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None
