"""Virtual controllers for demos, training and tests (mDNS + HTTP + pty serial, OpenSprinkler).

The exports load on first use: `fieldtech --help` and the TUI import `simulator.commands` to
register `fieldtech simulate`, and must not pay for zeroconf and httpx (~200 ms) to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldtech.simulator.simulator import BackgroundSimulator, SimulatedDevice, Simulator

__all__ = ["BackgroundSimulator", "SimulatedDevice", "Simulator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fieldtech.simulator import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
