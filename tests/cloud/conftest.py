"""The reference cloud service on a real 127.0.0.1 port (SQLite file), shared by the sync tests.

Tests stay independent by each making a fresh contractor account (`new_account`).
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyrings import HangingKeyring, MemoryKeyring

from fieldtech.cloud.api import CloudAPI, RetryPolicy
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.seed import generate_account
from fieldtech.server.accounts import create_account
from fieldtech.server.embedded import EmbeddedServer
from fieldtech.server.seed import seed_account

PASSWORD = "correct horse battery"
FAST_RETRY = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)
_numbers = itertools.count(1)


@dataclass
class CloudAccount:
    url: str
    email: str
    password: str
    account_id: str
    token: str

    def api(self, **options) -> CloudAPI:
        options.setdefault("retry", FAST_RETRY)
        return CloudAPI(self.url, self.token, **options)

    def get(self, path: str) -> dict:
        """What the cloud holds, read straight over HTTP (not through the code under test)."""
        r = httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    path = tmp_path_factory.mktemp("cloud") / "cloud.sqlite3"
    with EmbeddedServer(f"sqlite:///{path}") as server:
        yield server


@pytest.fixture
def new_account(cloud: EmbeddedServer) -> Callable[..., CloudAccount]:
    def make(tier: Tier = Tier.STARTER) -> CloudAccount:
        email = f"contractor{next(_numbers)}@example.com"
        made = create_account(cloud.db, email=email, password=PASSWORD,
                              name=f"Contractor {email}", tier=tier)
        with CloudAPI(cloud.url, retry=FAST_RETRY) as api:
            token = api.login(email, PASSWORD)["token"]
        return CloudAccount(cloud.url, email, PASSWORD, made.account_id, token)

    return make


@pytest.fixture
def use_keyring() -> Iterator:
    """Install a keyring backend for one test; the previous one comes back after."""
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    current = keyring.get_keyring()
    if isinstance(current, HangingKeyring):
        current.release.set()
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(use_keyring) -> MemoryKeyring:
    return use_keyring(MemoryKeyring())


@pytest.fixture
def no_keyring(use_keyring) -> KeyringBackend:
    """A headless box: keyring's own fail backend raises NoKeyringError."""
    return use_keyring(fail.Keyring())


@pytest.fixture
def hanging_keyring(use_keyring) -> HangingKeyring:
    return use_keyring(HangingKeyring())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return Path(os.environ["FIELDTECH_CONFIG_DIR"])  # set per test by tests/conftest.py


@pytest.fixture
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIELDTECH_TOKEN", raising=False)
    monkeypatch.delenv("FIELDTECH_CLOUD_URL", raising=False)


@pytest.fixture
def seeded(cloud: EmbeddedServer, new_account,
           request: pytest.FixtureRequest) -> Callable[..., CloudAccount]:
    """A fresh account on `tier` holding a generated fleet, written straight into the server.

    Its seed comes from the test's own name (and how many it made before): the fleet a test
    gets must not depend on how many accounts the session made before it. Distinct per account
    (the seed makes the record ids)."""
    own = itertools.count(100_000 + zlib.crc32(request.node.nodeid.encode()) % 10_000_000 * 16)

    def make(customers: int = 6, controllers: int = 20, tier: Tier = Tier.STARTER,
             seed: int | None = None) -> CloudAccount:
        account = new_account(tier)
        seed_account(cloud.db, account.account_id, generate_account(
            customers, controllers, seed=next(own) if seed is None else seed, tier=tier))
        return account

    return make
