"""Scripted trouble for tests and demos: a TOML list of timed steps run against a Simulator.

```toml
repeat_every = 120          # optional: start over every 120 s (a demo that never ends)

[[step]]
at = 10                     # seconds after the scenario starts
serial = "FT1-SIM00001"     # optional: every native controller when left out
do = "fault"                # fault | recover | offline | online | reboot
kind = "flow_high"          # the fault (see faults.FAULT_KINDS); with recover: only that one
zone = 3                    # for zone and flow faults
detail = "Leak at the gate" # optional: the text a person reads

[[step]]
at = 40
serial = "FT1-SIM00001"
do = "recover"
```

`fieldtech simulate --scenario FILE` runs one; tests call `run_scenario` or `apply_step`.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldtech.simulator.faults import FaultError, make_fault

if TYPE_CHECKING:
    from fieldtech.simulator.cloud_loop import CloudLoop
    from fieldtech.simulator.simulator import Simulator

ACTIONS = ("fault", "recover", "offline", "online", "reboot")
_STEP_KEYS = {"at", "serial", "do", "kind", "zone", "detail"}


class ScenarioError(ValueError):
    """A scenario file that cannot be run, saying which step and why."""


@dataclass(frozen=True)
class Step:
    at: float
    do: str
    serial: str | None = None
    kind: str | None = None
    zone: int | None = None
    detail: str | None = None

    def describe(self) -> str:
        what = self.do
        if self.kind:
            what += f" {self.kind}" + (f" on zone {self.zone}" if self.zone else "")
        return f"{self.serial or 'every controller'}: {what}"


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]
    repeat_every: float | None = None

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{path} could not be read ({exc.strerror}).") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, source: str = "the scenario") -> Scenario:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{source} is not valid TOML: {exc}.") from None
        unknown = set(data) - {"step", "repeat_every"}
        if unknown:
            raise ScenarioError(f"{source}: unknown key {sorted(unknown)[0]!r} (use [[step]] "
                                "tables and repeat_every).")
        raw = data.get("step", [])
        if not isinstance(raw, list) or not raw:
            raise ScenarioError(f"{source} has no [[step]]: nothing to do.")
        steps = tuple(sorted((_step(s, n, source) for n, s in enumerate(raw, 1)),
                             key=lambda s: s.at))
        repeat = data.get("repeat_every")
        if repeat is not None and (not _number(repeat) or repeat <= steps[-1].at):
            raise ScenarioError(f"{source}: repeat_every must be a number of seconds after the "
                                f"last step (at {steps[-1].at:g}).")
        return cls(steps, float(repeat) if repeat is not None else None)

    def check(self, sim: Simulator) -> None:
        """Raise ScenarioError for a step naming a controller this simulator does not run."""
        known = {d.serial for d in sim.devices if d.cloud is not None}
        for step in self.steps:
            if step.serial is not None and step.serial not in known:
                raise ScenarioError(f"Step at {step.at:g} s names {step.serial}, which this "
                                    f"simulator does not run (it runs {', '.join(sorted(known))}).")


def _step(raw: Any, n: int, source: str) -> Step:
    where = f"{source}, step {n}"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a step is a table ([[step]]).")
    if unknown := set(raw) - _STEP_KEYS:
        raise ScenarioError(f"{where}: unknown key {sorted(unknown)[0]!r} (a step has "
                            f"{', '.join(sorted(_STEP_KEYS))}).")
    at, do, serial = raw.get("at"), raw.get("do"), raw.get("serial")
    if not _number(at) or at < 0:
        raise ScenarioError(f"{where}: `at` must be the seconds after the start (0 or more).")
    if do not in ACTIONS:
        raise ScenarioError(f"{where}: `do` must be one of {', '.join(ACTIONS)} (not {do!r}).")
    if serial is not None and not isinstance(serial, str):
        raise ScenarioError(f"{where}: `serial` is a controller's serial number, as text.")
    kind, zone, detail = raw.get("kind"), raw.get("zone"), raw.get("detail")
    try:
        if do == "fault":
            make_fault(kind, zone, detail)
        elif do == "recover" and kind is not None:
            make_fault(kind, zone)
        elif kind is not None or zone is not None or detail is not None:
            raise FaultError(f"`{do}` takes no kind, zone or detail.")
    except FaultError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return Step(float(at), do, serial, kind, zone, detail)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def apply_step(step: Step, sim: Simulator) -> list[str]:
    """Do one step now → what happened, a line per controller."""
    done = []
    for device in sim.devices:
        if device.cloud is None or step.serial not in (None, device.serial):
            continue
        done.append(f"{device.serial}: {_apply(step, device.cloud)}")
    return done


def _apply(step: Step, loop: CloudLoop) -> str:
    if step.do == "fault":
        assert step.kind is not None  # checked when parsed
        fault = loop.inject_fault(step.kind, step.zone, step.detail)
        return f"fault — {fault['detail']}"
    if step.do == "recover":
        cleared = loop.recover(step.kind, step.zone)
        return f"recovered ({cleared} fault{'s' if cleared != 1 else ''} cleared)"
    if step.do == "offline":
        loop.go_offline()
        return "offline (stops heartbeating)"
    if step.do == "online":
        loop.come_back()
        return "back online"
    loop.reboot_soon()
    return "rebooting"


async def run_scenario(scenario: Scenario, sim: Simulator,
                       report: Callable[[float, str], None] | None = None) -> None:
    """Run the steps at their times (for ever when it repeats); `report(at, line)` for each."""
    scenario.check(sim)
    while True:
        start = time.monotonic()
        for step in scenario.steps:
            await asyncio.sleep(max(0.0, start + step.at - time.monotonic()))
            for line in apply_step(step, sim):
                if report is not None:
                    report(step.at, line)
        if scenario.repeat_every is None:
            return
        await asyncio.sleep(max(0.0, start + scenario.repeat_every - time.monotonic()))


def rolling_trouble(serials: list[str], every: float = 300.0) -> Scenario:
    """A demo that never ends: a leak, a dead valve, a site outage, a reboot and a low supply
    come and go on the given controllers, over and over (`every` seconds a round). The outage
    lasts long enough for the cloud to call it offline (three missed 30 s heartbeats)."""
    plan = [  # (fraction of the round, which controller, step)
        (0.05, 0, {"do": "fault", "kind": "flow_high", "zone": 2}),
        (0.12, 1, {"do": "fault", "kind": "zone_no_current", "zone": 3}),
        (0.18, 2, {"do": "offline"}),
        (0.30, 3, {"do": "reboot"}),
        (0.40, 0, {"do": "recover"}),
        (0.50, 4, {"do": "fault", "kind": "low_voltage"}),
        (0.60, 1, {"do": "recover"}),
        (0.75, 2, {"do": "online"}),
        (0.85, 4, {"do": "recover"}),
    ]
    steps = tuple(Step(at=round(f * every, 1), serial=serials[i], **step)  # type: ignore[arg-type]
                  for f, i, step in plan if i < len(serials))
    return Scenario(steps, every)
