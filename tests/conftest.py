"""Shared fixtures: every test gets its own real SQLite file and its own data/config dirs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fieldtech.domain.models import Controller, ControllerConfig, Customer, new_id
from fieldtech.offline_store import Store

# The day seeded screens are generated for: their rain delays and suspensions never change
# with the real date (snapshots).
SEED_DAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the developer's real data, settings or keyring-held tokens."""
    monkeypatch.setenv("FIELDTECH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIELDTECH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def customer(store: Store) -> Customer:
    c = Customer(id=new_id(), name="Rosa Patel", email="rosa@mail.example", address="12 Oak St")
    store.create_customer(c)
    return c


def make_controller(customer: Customer, zones: int = 6, **kw) -> Controller:
    return Controller(
        id=new_id(), customer_id=customer.id, name=kw.pop("name", "Front yard"),
        zone_count=zones, config=ControllerConfig.default_for(zones), **kw,
    )
