"""What every request handler reaches through `request.app.state.server`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fieldtech.domain.incidents import HEARTBEAT_S
from fieldtech.server.change_feed import ChangeFeed
from fieldtech.server.db import Database
from fieldtech.server.device_store import CoreDeviceStore, DeviceStore
from fieldtech.server.ratelimit import Rate, RateLimiter, SharedRateLimiter


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Limits:
    """Rate limits (docs/server.md, "Limits"); tests and the benchmark pass their own."""

    # a sync engine pushing a batch, then pulling
    user: Rate = field(default_factory=lambda: Rate(per_second=20, burst=60))
    # a controller polls about once a minute
    device: Rate = field(default_factory=lambda: Rate(per_second=1, burst=10))
    # wrong passwords per (e-mail, client address): ten, then one every 5 s
    login: Rate = field(default_factory=lambda: Rate(per_second=0.2, burst=10))
    # wrong passwords per e-mail from addresses it never signed in from: 30, then 1 a minute
    login_email: Rate = field(default_factory=lambda: Rate(per_second=1 / 60, burst=30))
    # every login attempt per client address, whatever the e-mail: 30, then one every 2 s
    login_address: Rate = field(default_factory=lambda: Rate(per_second=0.5, burst=30))
    # wrong plan codes per account and per client address: ten, then one a minute
    plan_code: Rate = field(default_factory=lambda: Rate(per_second=1 / 60, burst=10))
    # per client address
    pairing: Rate = field(default_factory=lambda: Rate(per_second=0.2, burst=10))


@dataclass
class ServerState:
    db: Database
    clock: Callable[[], datetime] = utcnow
    limits: Limits = field(default_factory=Limits)
    device_store: DeviceStore | None = None  # heartbeats and config polls; Core SQL unless given
    heartbeat_s: int = HEARTBEAT_S  # the period devices are told; offline after 3 missed
    sweep_every: float = 10.0  # seconds between sweeps (sweeper.py) in each worker
    change_feed: ChangeFeed | None = None  # long-poll wake-ups; in-process only unless given
    # Memberships by the calendar (sweeper.py): each contractor's day when this worker last
    # looked (None: accounts with no time zone set), and the day it settled each account.
    memberships_days: dict[str | None, date] | None = field(default=None, init=False)
    memberships_settled: dict[str, date] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.devices: DeviceStore = self.device_store or CoreDeviceStore(self.db)
        self.changes = self.change_feed or ChangeFeed()
        self.user_limiter = RateLimiter(self.limits.user)
        self.device_limiter = RateLimiter(self.limits.device)
        self.pairing_limiter = RateLimiter(self.limits.pairing)
        self.guesses = SharedRateLimiter(self.db)  # logins and plan codes, across processes
