"""A realistic generated account: the demo's data and the benchmarks' 10,000-controller fleet."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fieldtech.domain.models import (
    Account,
    Controller,
    ControllerConfig,
    ControllerState,
    Customer,
    Program,
    ScheduleKind,
    Zone,
)
from fieldtech.domain.plans import (
    CustomerPlan,
    Membership,
    SelfManagement,
    Tier,
    TierLimits,
    smallest_tier_for,
)
from fieldtech.offline_store.store import Store

FIRST = ("Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kara", "Luis", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara",
         "Uma", "Victor", "Wen", "Xavier", "Yara", "Zane")
LAST = ("Alvarez", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
        "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quint", "Rossi",
        "Schmidt", "Tanaka", "Ueda", "Varga", "Weber", "Young", "Zimmer")
BUSINESS = ("HOA", "Dental", "Golf Club", "Apartments", "School", "Church", "Park District",
            "Office Park", "Vineyard", "Hotel", "Library", "Clinic")
PLACE = ("Oakridge", "Maple", "Cedar Hill", "Riverside", "Sunset", "Willow Creek", "Pinecrest",
         "Lakeview", "Stonegate", "Fairview", "Brookside", "Highland", "Meadow", "Harbor")
STREET = ("Oak St", "Elm Ave", "Main St", "Park Rd", "Hill Dr", "Lake Blvd", "Vine Ln",
          "Birch Ct", "River Rd", "Sunset Way", "Mill St", "Church Rd")
CITY = ("Fresno, CA", "Mesa, AZ", "Boise, ID", "Austin, TX", "Reno, NV", "Tucson, AZ",
        "Sacramento, CA", "Provo, UT", "Tulsa, OK", "Eugene, OR")
SITES = ("Front yard", "Back yard", "Side strip", "Courtyard", "North lawn", "South beds",
         "Clubhouse", "Entrance", "Pool area", "Orchard", "Parking islands", "Garden")
ZONES = ("Front lawn", "Back lawn", "Drip beds", "Roses", "Hedges", "Trees", "Veg garden",
         "Park strip", "Planters", "Slope", "Turf east", "Turf west", "Shrubs", "Pots")
MODELS = (("FT-8", 8), ("FT-16", 16), ("FT-24", 24), ("FT-4", 4), ("OS-3.3", 8), ("FT-12", 12))
FAULTS = ("Zone 4: no current (broken wire?)", "Flow sensor: high flow", "Rain sensor fault",
          "Master valve stuck", "Low voltage (24 VAC transformer?)")
# The most `seed` generates at once: ten times the largest account we measure (10,000), about
# 20 s; more would only fill the disk and the memory before anything is written.
SEED_MAX = 100_000
TIMEZONES = ("America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago")
RUN_MINUTES = (5, 8, 10, 12, 15, 20, 30)
CYCLE_MINUTES = (None, None, None, 5, 10)
SOAK_MINUTES = (10, 20, 30)
SEASONAL_PCT = (80, 90, 100, 100, 100, 110, 120)


@dataclass(frozen=True)
class GeneratedAccount:
    """An account as the seeder makes it, before it is written anywhere (store or cloud)."""

    account: Account
    customers: list[Customer]
    controllers: list[tuple[Controller, int, ControllerState, str | None]]  # rev, state, fault

    @property
    def enthusiast(self) -> int:
        return sum(1 for c in self.customers if c.plan is CustomerPlan.ENTHUSIAST)


def generate_account(
    customers: int,
    controllers: int,
    seed: int = 7,
    tier: Tier | None = None,
    account_name: str = "Greenline Irrigation",
    today: date | None = None,
) -> GeneratedAccount:
    """`customers` customers sharing `controllers` controllers, the same for the same seed.

    Rain delays and suspensions run from `today` (by default the real one), so a demo made
    today shows some; tests pass a fixed day to get the same account every time.
    """
    return _generate(customers, controllers, seed, tier, account_name, today, lazy=False)


def _generate(customers: int, controllers: int, seed: int, tier: Tier | None,
              account_name: str, today: date | None, lazy: bool) -> Any:
    """generate_account's account, and with `lazy` its controllers one at a time as they are
    made (the same ones, drawn in the same order): seeding writes 100,000 without holding
    them all (650 MB resident before)."""
    rnd = random.Random(seed)
    today = today or datetime.now(UTC).date()
    customers = max(1, min(customers, controllers or 1))
    tier = tier or smallest_tier_for(controllers)
    custom = None
    if tier is Tier.PLATINUM:  # a Platinum contract is sized to the fleet, with headroom
        custom = TierLimits(controllers=(controllers // 1000 + 2) * 1000, staff_users=200,
                            included_enthusiast=controllers // 10)
    account = Account(id=_uuid(rnd), name=account_name, tier=tier, custom_limits=custom)
    made_customers = [_customer(rnd, i) for i in range(customers)]
    # Every customer gets at least one controller; the rest are spread unevenly (a few
    # customers — HOAs, golf clubs — own many).
    owners = list(range(customers)) + [
        min(customers - 1, int(rnd.paretovariate(1.2)) - 1 + rnd.randrange(customers))
        for _ in range(max(0, controllers - customers))
    ]
    made_controllers = _unique_serials(_controller(rnd, made_customers[owner], n, today)
                                       for n, owner in enumerate(owners[:controllers]))
    made = GeneratedAccount(account, made_customers, [])
    if lazy:
        return made, made_controllers
    made.controllers.extend(made_controllers)
    return made


def seed_store(
    store: Store,
    customers: int,
    controllers: int,
    seed: int = 7,
    tier: Tier | None = None,
    account_name: str = "Greenline Irrigation",
    today: date | None = None,
) -> tuple[int, int]:
    """Fill `store` with an account of `customers` customers sharing `controllers` controllers.

    Records are written as if pulled from the cloud (revision 1, a base copy, no outbox rows).
    Returns (customers, controllers) written; ValueError for a count out of 1–SEED_MAX.
    """
    if problem := seed_count_error(customers, controllers):
        raise ValueError(problem)
    made, lazily = _generate(customers, controllers, seed, tier, account_name, today, lazy=True)
    store.put_synced_many(((c, 1) for c in made.customers), lazily)
    store.set_account(made.account, controllers_used=controllers,
                      enthusiast_used=made.enthusiast)
    return len(made.customers), controllers


def seed_count_error(customers: int, controllers: int) -> str | None:
    """Why these counts cannot be seeded (checked before anything is generated), or None."""
    if not (1 <= customers <= SEED_MAX and 1 <= controllers <= SEED_MAX):
        return (f"--customers and --controllers must be between 1 and {SEED_MAX:,} "
                f"({customers:,} and {controllers:,} given).")
    return None


def _unique_serials(made: Iterable[tuple[Controller, int, ControllerState, str | None]],
                    ) -> Iterator[tuple[Controller, int, ControllerState, str | None]]:
    """Serials are 32 random bits: at 100,000 controllers two come out alike about once, and
    the cloud keeps serials unique per account. A repeat takes the next free number, drawn
    from nothing, so every other controller stays exactly as the seed makes it."""
    taken: set[str] = set()
    for row in made:
        controller = row[0]
        if controller.serial is not None:
            if controller.serial in taken:
                prefix, digits = controller.serial.split("-")
                number = int(digits, 16)
                while controller.serial in taken:
                    number = (number + 1) % 16 ** len(digits)
                    controller.serial = f"{prefix}-{number:0{len(digits)}X}"
            taken.add(controller.serial)
        yield row


def _chooser(rnd: random.Random) -> Callable[[Sequence[Any]], Any]:
    """`rnd.choice`, drawing the very same numbers, without its two Python frames a call:
    1.2 million zones at 100,000 controllers made choice() the seeder's largest cost. Checked
    against `choice` itself on this Python at import (`_SAME_AS_CHOICE`), else `choice`."""
    return _inline_choice(rnd) if _SAME_AS_CHOICE else rnd.choice


def _inline_choice(rnd: random.Random) -> Callable[[Sequence[Any]], Any]:
    bits = rnd.getrandbits

    def choice(seq: Sequence[Any]) -> Any:
        n = len(seq)  # as Random._randbelow_with_getrandbits draws it
        k = n.bit_length()
        r = bits(k)
        while r >= n:
            r = bits(k)
        return seq[r]

    return choice


def _draws_like_choice() -> bool:
    ours, theirs = random.Random(11), random.Random(11)
    pick = _inline_choice(ours)
    same = all(pick(seq) == theirs.choice(seq) for n in range(1, 40)
               for seq in [tuple(range(n))] * 25)
    return same and ours.random() == theirs.random()


_SAME_AS_CHOICE = _draws_like_choice()


def _uuid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def _customer(rnd: random.Random, i: int) -> Customer:
    if rnd.random() < 0.2:
        name = f"{rnd.choice(PLACE)} {rnd.choice(BUSINESS)}"
        email = f"office{i}@{name.split()[0].lower()}.example"
    else:
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{i}@mail.example"
    return Customer(
        id=_uuid(rnd),
        name=name[:32],
        email=email,
        phone=f"555-{rnd.randrange(100, 999)}-{rnd.randrange(1000, 9999)}",
        address=f"{rnd.randrange(1, 9999)} {rnd.choice(STREET)}, {rnd.choice(CITY)}",
        plan=CustomerPlan.ENTHUSIAST if rnd.random() < 0.15 else CustomerPlan.HOME,
        self_management=rnd.choice(list(SelfManagement)),
        membership=rnd.choices(list(Membership), weights=(50, 25, 12, 8, 5))[0],
    )


def _controller(
    rnd: random.Random, customer: Customer, n: int, today: date
) -> tuple[Controller, int, ControllerState, str | None]:
    choice, chance = _chooser(rnd), rnd.random
    model, zone_count = choice(MODELS)
    linked = chance() > 0.06
    serial = f"FT1-{rnd.getrandbits(32):08X}" if linked else None
    if model.startswith("OS") and linked:
        serial = f"OS-{rnd.getrandbits(48):012X}"
    zones = [
        Zone(
            number=z,
            name=f"{choice(ZONES)} {z}"[:32],
            run_minutes=choice(RUN_MINUTES),
            enabled=chance() > 0.05,
            cycle_minutes=(c := choice(CYCLE_MINUTES)),
            soak_minutes=None if c is None else choice(SOAK_MINUTES),
            master_valve=z == 1 and chance() < 0.3,
            seasonal_adjust_pct=choice(SEASONAL_PCT),
            suspended_until=(today + timedelta(days=1 + rnd.randrange(60)))
            if chance() < 0.02 else None,
        )
        for z in range(1, zone_count + 1)
    ]
    programs = []
    for p in range(choice((1, 1, 2, 3))):
        kind = choice(list(ScheduleKind))
        programs.append(
            Program(
                name=("Lawns", "Beds", "Drip", "Trees")[p % 4],
                schedule=kind,
                days=sorted(rnd.sample(range(7), rnd.randrange(1, 5))),
                interval_days=rnd.randrange(2, 5),
                start_times=[f"{h:02d}:{choice((0, 15, 30, 45)):02d}"
                             for h in sorted(rnd.sample(range(3, 8), rnd.randrange(1, 3)))],
                zone_minutes={z.number: z.run_minutes for z in zones if chance() < 0.6},
            )
        )
    rain = None
    if chance() < 0.05:
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
        rain = midnight + timedelta(hours=rnd.randrange(28, 96))  # from tomorrow on
    controller = Controller(
        id=_uuid(rnd),
        customer_id=customer.id,
        name=f"{choice(SITES)}" + (f" {n % 7 + 1}" if chance() < 0.3 else ""),
        model=model,
        zone_count=zone_count,
        serial=serial,
        timezone=choice(TIMEZONES),
        location=customer.address,
        notes=choice(("", "", "Gate code 4412", "Dog in yard", "Valve box behind shed")),
        config=ControllerConfig(zones=zones, programs=programs, rain_delay_until=rain),
    )
    if not linked:
        state = ControllerState.NOT_LINKED
    else:
        state = rnd.choices(
            (ControllerState.ONLINE, ControllerState.OFFLINE, ControllerState.OUT_OF_SYNC,
             ControllerState.WAITING),
            weights=(85, 8, 4, 3),
        )[0]
    fault = choice(FAULTS) if linked and chance() < 0.03 else None
    return controller, 1, state, fault


ONSITE_CUSTOMER = "Willow Creek HOA (on-site demo)"


def seed_onsite(store: Store, bound_serial: str = "FT1-SIM00001") -> tuple[str, str]:
    """A customer for the on-site walk-through: "Clubhouse", bound to `bound_serial` but with
    zone names the device does not have yet (compare shows them), and "Entrance", prepared
    with no hardware (bind a found device to it). Returns (bound id, prepared id)."""
    customer = Customer(id=str(uuid.uuid4()), name=ONSITE_CUSTOMER, email="board@willow.example",
                        phone="555-010-2040", address="1 Willow Creek Dr, Boise, ID")
    made = []
    for name, serial in (("Clubhouse", bound_serial), ("Entrance", None)):
        config = ControllerConfig.default_for(8)
        for zone, label in zip(config.zones, ZONES, strict=False):
            zone.name = f"{name} {label.lower()}"
        config.programs = [Program(name="Lawns", days=[0, 2, 4], start_times=["05:30"],
                                   zone_minutes={1: 10, 2: 10, 3: 6})]
        controller = Controller(id=str(uuid.uuid4()), customer_id=customer.id, name=name,
                                model="FT-8", zone_count=8, serial=serial, timezone="America/Boise",
                                location=customer.address, config=config)
        state = ControllerState.NOT_LINKED if serial is None else ControllerState.OUT_OF_SYNC
        made.append((controller, 1, state, None))
    store.put_synced_many([(customer, 1)], made)
    return made[0][0].id, made[1][0].id
