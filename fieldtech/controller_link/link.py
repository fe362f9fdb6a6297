"""The one interface every controller driver implements, and the records it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

from fieldtech.domain.models import ControllerConfig

Driver = Literal["native", "opensprinkler", "improv"]
Transport = Literal["http", "serial"]


@dataclass(frozen=True)
class DeviceInfo:
    """What a found or connected device is. Fields a discovery method cannot know are None."""

    driver: Driver
    address: str  # "http://127.0.0.1:8123", "/dev/ttyUSB0", "192.168.1.20:80"
    transport: Transport = "http"
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    zone_count: int | None = None
    mac: str | None = None
    name: str | None = None
    needs_password: bool = False  # an OpenSprinkler that answered only {"fwv": N}

    def describe(self) -> str:
        what = self.model or self.driver
        serial = self.serial or "serial unknown"
        fw = f", firmware {self.firmware}" if self.firmware else ""
        return f"{what} ({serial}{fw}) at {self.address}"


@dataclass
class DeviceConfig:
    """A configuration as read from a device.

    `config` is what our model holds. `revision` is the device's own version of it (the native
    protocol's `config.apply` needs it). `extra` is opaque driver data that our model cannot
    hold (OpenSprinkler program arrays, unknown fields) and that `apply_config` writes back so
    nothing on the device is lost. `unsupported` lists model fields this device does not store
    ("zone.run_minutes", …): a diff ignores them and a pull keeps the record's values.
    `notes` are things the technician should know ("program 'Roses' is monthly: kept as is").
    `stored_name` is how the device rewrites a name it is given (None: as it is), so a compare
    straight after a push does not report the device's own spelling as a difference.
    """

    config: ControllerConfig
    revision: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)
    stored_name: Callable[[str], str] | None = None


@dataclass(frozen=True)
class RunningZone:
    zone: int
    seconds_left: int


@dataclass(frozen=True)
class DeviceStatus:
    enabled: bool
    running: tuple[RunningZone, ...] = ()
    queued: tuple[int, ...] = ()  # zones waiting to run, in order
    rain_delay_until: datetime | None = None

    def seconds_left(self, zone: int) -> int | None:
        return next((r.seconds_left for r in self.running if r.zone == zone), None)


class ControllerLink(ABC):
    """A connection to one controller, whatever its driver. Use as `async with`."""

    info: DeviceInfo | None = None

    @abstractmethod
    async def identify(self) -> DeviceInfo: ...

    @abstractmethod
    async def read_config(self) -> DeviceConfig: ...

    @abstractmethod
    async def apply_config(
        self, config: ControllerConfig, base: DeviceConfig | None = None
    ) -> DeviceConfig:
        """Push `config`. `base` is what was read before (kept data, revision); read if None."""

    @abstractmethod
    async def read_status(self) -> DeviceStatus: ...

    @abstractmethod
    async def run_zone(self, zone: int, seconds: int) -> None: ...

    @abstractmethod
    async def stop_all(self) -> None: ...

    @abstractmethod
    async def set_rain_delay(self, hours: int) -> None:
        """Delay watering for `hours` (0 clears a delay)."""

    @abstractmethod
    async def set_enabled(self, enabled: bool) -> None: ...

    async def aclose(self) -> None:  # noqa: B027 - drivers without resources need nothing
        """Release the connection (HTTP client, serial port)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
