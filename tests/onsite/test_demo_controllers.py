"""`fieldtech demo` wiring: simulated controllers beside the TUI, loopback only."""

from __future__ import annotations

import time
from pathlib import Path

from fieldtech.cli import app_commands
from fieldtech.cli.app_commands import DemoControllers
from fieldtech.controller_link import LOOPBACK_INTERFACES
from fieldtech.controller_link.safety import LOOPBACK_ONLY_ENV


def test_demo_constants_are_the_controller_links() -> None:
    # Written out in app_commands so the demo's first paint does not import zeroconf.
    assert app_commands.DEMO_MDNS_INTERFACES == LOOPBACK_INTERFACES
    assert app_commands.DEMO_LOOPBACK_ONLY_ENV == LOOPBACK_ONLY_ENV


def test_demo_controllers_start_in_the_background_and_stop(tmp_path: Path) -> None:
    controllers = DemoControllers(tmp_path / "simulator")
    assert controllers.of_kind("native") == [] and controllers.serial_path is None  # not yet
    controllers.start()
    deadline = time.monotonic() + 30
    while controllers.background is None:
        assert controllers.problem is None, controllers.problem
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.05)
    try:
        assert [d.serial for d in controllers.of_kind("native")] == [
            "FT1-SIM00001", "FT1-SIM00002", "FT1-SIM00003"]
        assert len(controllers.of_kind("opensprinkler")) == 1
        assert controllers.serial_path and Path(controllers.serial_path).exists()
        assert all(d.address.split("//")[-1].startswith("127.0.0.1:")
                   for d in controllers.of_kind("native") + controllers.of_kind("opensprinkler"))
        assert (tmp_path / "simulator" / "FT1-SIM00001.json").exists()  # state kept for next time
    finally:
        controllers.stop()
    assert controllers.of_kind("native") == []  # stopped: devices gone


def test_stopping_demo_controllers_that_never_started_is_fine(tmp_path: Path) -> None:
    DemoControllers(tmp_path).stop()  # quit before the first paint
