"""Validation messages, the plan table and usage: the rules every part shares."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fieldtech.domain import (
    Controller,
    ControllerConfig,
    Program,
    ScheduleKind,
    Tier,
    ValidationError,
    Zone,
    new_id,
    usage,
)
from fieldtech.domain.plans import PLAN_TABLE, smallest_tier_for, tier_limits
from fieldtech.domain.validation import (
    control_character_error,
    parse_config,
    parse_controller,
    parse_customer,
    plan_code_error,
    serial_error,
    validate_config,
    validate_program,
)


def controller(**kw) -> Controller:
    zones = kw.pop("zone_count", 4)
    return Controller(id=new_id(), customer_id="k1", name=kw.pop("name", "Front"),
                      zone_count=zones, config=ControllerConfig.default_for(zones), **kw)


def test_plan_table_matches_design() -> None:
    expected = {Tier.STARTER: (25, 5, 0), Tier.CONTRACTOR: (75, 5, 2), Tier.BRONZE: (150, 15, 12),
                Tier.SILVER: (250, 30, 20), Tier.GOLD: (400, 45, 35)}
    got = {t: (x.controllers, x.staff_users, x.included_enthusiast) for t, x in PLAN_TABLE.items()}
    assert got == expected
    assert smallest_tier_for(26) is Tier.CONTRACTOR and smallest_tier_for(401) is Tier.PLATINUM
    assert tier_limits(Tier.PLATINUM).controllers > 400


def test_usage_reports_used_limit_and_enthusiast_available() -> None:
    u = usage(Tier.BRONZE, controllers_used=149, enthusiast_used=5)
    assert (u.controllers_limit, u.controllers_free, u.enthusiast_available) == (150, 1, 7)
    assert u.controller_warning() == "This is 150 of 150 controllers on Bronze."
    over = u.controller_warning(adding=2)
    assert "151 of 150" in over and "Silver" in over
    assert usage(Tier.BRONZE, 10, 0).controller_warning() is None


@pytest.mark.parametrize("code, ok", [
    ("45F2-644E", True), ("45f2-644e", True), ("45F2644E", False), ("45G2-644E", False),
    ("45F2-644", False), ("", False), (" 45F2-644E ", True)])
def test_plan_code_shape(code: str, ok: bool) -> None:
    assert (plan_code_error(code) is None) is ok


def test_serial_shape() -> None:
    assert serial_error("FT1-0A1B2C3D") is None
    assert serial_error("OS-A1B2C3D4E5F6") is None
    assert serial_error("ft1-0a1b2c3d") is None  # normalised before checking
    assert "label" in serial_error("12345")


def test_every_problem_reported_with_its_field() -> None:
    c = controller(zone_count=4, name="x" * 40)
    c.config.zones[1].run_minutes = -1
    c.config.zones.append(Zone(number=9, name="Ghost"))
    c.config.programs.append(Program(name="", start_times=["6:00"], zone_minutes={7: 5}))
    with pytest.raises(ValidationError) as err:
        parse_controller(c.to_dict())
    fields = {e.field for e in err.value.errors}
    assert {"name", "zones.2.run_minutes", "zones.9.number", "programs.0.name",
            "programs.0.start_times", "programs.0.zone_minutes.7"} <= fields
    msg = dict((e.field, e.message) for e in err.value.errors)["zones.9.number"]
    assert "has 4 zones" in msg


def test_duplicate_zone_numbers_and_start_times() -> None:
    cfg = ControllerConfig(zones=[Zone(1, "A"), Zone(1, "B")],
                           programs=[Program(name="P", start_times=["06:00", "06:00"])])
    fields = [e.field for e in validate_config(cfg, 4)]
    assert "zones.1.number" in fields and "programs.0.start_times" in fields


def test_program_rules() -> None:
    p = Program(name="P", schedule=ScheduleKind.INTERVAL, interval_days=1)
    assert [e.field for e in validate_program(p, 8)] == ["program.interval_days"]
    p = Program(name="P", days=[], start_times=["01:00"] * 5)
    assert {e.field for e in validate_program(p, 8)} == {"program.days", "program.start_times"}


def test_wrong_types_are_errors_not_crashes() -> None:
    with pytest.raises(ValidationError) as err:
        parse_config({"zones": [{"number": "one", "name": 5}]}, 8)
    assert {e.field for e in err.value.errors} == {"zones.one.number", "zones.one.name"}
    with pytest.raises(ValidationError):
        parse_config({"zones": [{"number": 1, "name": "A", "suspended_until": "soon"}]}, 8)
    with pytest.raises(ValidationError):
        parse_controller("not a dict")  # type: ignore[arg-type]


def test_control_characters_are_refused_with_the_field_and_where_they_are() -> None:
    c = controller(name="Front\x00yard", model="FT\x1b8", location="Shed\nleft", notes="a\x00b")
    c.config.zones[0].name = "Lawn\tnorth"
    c.config.programs.append(Program(name="Night\x07"))
    with pytest.raises(ValidationError) as err:
        parse_controller(c.to_dict())
    messages = {e.field: e.message for e in err.value.errors}
    assert set(messages) == {"name", "model", "notes", "zones.1.name", "programs.0.name"}
    assert messages["name"] == (
        "Remove the invisible control character (U+0000) at character 6, "
        "often left by a copy and paste."
    )
    assert messages["zones.1.name"] == "Remove the tab at character 5; this field is one line."
    with pytest.raises(ValidationError) as err:
        parse_customer({"id": new_id(), "name": "Ada", "email": "a\x00@b.example",
                        "phone": "555\n1234", "address": "1 Main St\nSpringfield\x00"})
    assert {e.field for e in err.value.errors} == {"email", "phone", "address"}
    # multi-line text keeps tabs and line breaks; nothing else is refused
    ok = parse_customer({"id": new_id(), "name": "Zoë 🌱", "address": "1 Main St\r\n\tRear"})
    assert ok.address == "1 Main St\r\n\tRear"
    assert control_character_error("Delete\x7f") is not None
    assert control_character_error("Back lawn") is None


def test_round_trip_through_dict_keeps_everything() -> None:
    c = controller(zone_count=3, serial="FT1-0A1B2C3D", notes="Dog")
    c.config.zones[0].suspended_until = date(2026, 12, 24)
    c.config.zones[1].cycle_minutes, c.config.zones[1].soak_minutes = 5, 20
    c.config.programs.append(Program(name="Lawn", zone_minutes={1: 10, 3: 5}))
    assert Controller.from_dict(c.to_dict()) == c
    assert parse_controller(c.to_dict()) == c


def test_copy_config_cuts_or_pads_to_zone_count() -> None:
    big = controller(zone_count=8)
    big.config.programs.append(Program(name="All", zone_minutes={1: 5, 8: 9}))
    small = controller(zone_count=4).copy_config_from(big)
    assert [z.number for z in small.config.zones] == [1, 2, 3, 4]
    assert small.config.programs[0].zone_minutes == {1: 5}
    grown = controller(zone_count=10).copy_config_from(big)
    assert len(grown.config.zones) == 10


def test_programs_have_an_identity_that_old_records_get_on_load() -> None:
    from fieldtech.domain.models import ControllerConfig, Program

    old = {"programs": [{"name": "Lawn"}, {"name": "Beds"}]}  # stored before programs had ids
    first, second = ControllerConfig.from_dict(old), ControllerConfig.from_dict(old)
    assert [p.id for p in first.programs] == [p.id for p in second.programs]  # same each load
    assert len({p.id for p in first.programs}) == 2
    program = Program(name="New")
    assert Program.from_dict(program.to_dict()).id == program.id != Program(name="New").id
    assert program == Program(name="New")  # identity is not content: equal as settings


def test_programs_pair_by_id_then_name_never_by_position() -> None:
    from fieldtech.domain.models import Program
    from fieldtech.domain.pairing import pair_programs

    a, b, c = (Program(name=n) for n in "ABC")
    device = [Program(name="A", id="x"), Program(name="B", id=b.id), Program(name="Z")]
    # A pairs by name, B by id, C with nothing; the device's Z is only on the device
    assert pair_programs([c, b, a], device) == [(0, None), (1, 1), (2, 0), (None, 2)]


def test_the_contractors_day_is_the_one_in_their_time_zone() -> None:
    from fieldtech.domain.calendar import contractor_today

    at = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    assert contractor_today("Pacific/Kiritimati", at) == date(2026, 1, 2)
    assert contractor_today("Etc/GMT+12", at) == date(2025, 12, 31)
    assert contractor_today("UTC", at.replace(tzinfo=None)) == date(2026, 1, 1)  # the cloud's
    for unknown in ("Mars/Olympus", "", "../../etc/passwd"):  # the account default, no crash
        assert contractor_today(unknown, at) == date(2026, 1, 1)
