"""The reference cloud service on a real 127.0.0.1 port (SQLite file), shared by the sync tests.

Tests stay independent by each making a fresh contractor account (`new_account`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fieldtech.cloud.api import CloudAPI, RetryPolicy
from fieldtech.domain.plans import Tier
from fieldtech.server.accounts import create_account
from fieldtech.server.embedded import EmbeddedServer

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
