"""Fixtures: the reference cloud on 127.0.0.1 (see device_cloud.py) and a contractor in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from device_cloud import LiveCloud, Staff


@pytest.fixture
def live_cloud(tmp_path: Path) -> Iterator[LiveCloud]:
    cloud = LiveCloud(tmp_path / "cloud.sqlite3").start()
    yield cloud
    if cloud._server is not None:
        cloud.stop()


@pytest.fixture
def staff(live_cloud: LiveCloud) -> Iterator[Staff]:
    who = live_cloud.account()
    yield who
    who.http.close()
