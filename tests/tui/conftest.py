"""A real app on a real seeded SQLite store, driven by Textual's Pilot at 80×24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from fieldtech.app import FieldtechApp
from fieldtech.domain.models import Account, new_id
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from fieldtech.services.settings import Settings
from tests.conftest import SEED_DAY

SIZE = (80, 24)


def make_app(tmp_path: Path, customers: int = 30, controllers: int = 80,
             keys: dict[str, str] | None = None) -> FieldtechApp:
    store = Store(tmp_path / "store.db")
    if controllers:
        seed_store(store, customers, controllers, today=SEED_DAY)
    else:
        store.set_account(Account(id=new_id(), name="My company"))
    settings = Settings.load(tmp_path / "config")
    settings.keys.update(keys or {})  # as a settings file's [keys] puts bindings elsewhere
    return FieldtechApp(store, settings, tmp_path / "data")


@pytest.fixture
def app(tmp_path: Path) -> FieldtechApp:
    a = make_app(tmp_path)
    yield a
    a.store.close()


@pytest.fixture
def empty_app(tmp_path: Path) -> FieldtechApp:
    a = make_app(tmp_path, controllers=0)
    yield a
    a.store.close()


async def settle(pilot: Pilot) -> None:
    """Let workers finish and the screen repaint."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_for(pilot: Pilot, condition, timeout: float = 10.0) -> None:
    """Pause until `condition()` holds (workers chain: a save starts a reload when it ends)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.02)
    await settle(pilot)
