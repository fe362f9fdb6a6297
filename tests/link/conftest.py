"""Fixtures for the controller-link tests: a real simulator on 127.0.0.1, nothing else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fieldtech.controller_link.safety import LOOPBACK_ONLY_ENV
from fieldtech.simulator import Simulator

# Belt and braces: with this set, discovery refuses anything but 127.0.0.x / 127.0.0.1.
os.environ[LOOPBACK_ONLY_ENV] = "1"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two native controllers (HTTP), one OpenSprinkler and one on a pty; no mDNS (see
    test_discovery for that, it costs about a second)."""
    # a failed Wi-Fi join is reported after 0.3 s here, not the real device's 30 s
    async with Simulator(count=2, opensprinkler=1, serial=True, data_dir=tmp_path,
                         advertise=False,
                         serial_options={"join_fail_seconds": 0.3}) as simulator:
        yield simulator
