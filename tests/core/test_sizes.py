"""Every number that sizes a structure is checked before anything is built (issue 12, item 1):
99999999999 zones once filled the memory before the 1–200 check ran."""

from __future__ import annotations

import pytest

from fieldtech.domain.errors import ValidationError
from fieldtech.domain.models import Controller, ControllerConfig, Customer, Program, new_id
from fieldtech.forms.onsite import parse_zones, zone_test_form
from fieldtech.forms.records import controller_form, new_controller_form, program_form
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from fieldtech.services.edits import EditService
from tests.conftest import make_controller

HUGE = 99_999_999_999


@pytest.mark.parametrize("count", [HUGE, 0, -3, 201])
def test_default_config_refuses_a_zone_count_out_of_range(count: int) -> None:
    with pytest.raises(ValidationError, match="between 1 and 200"):
        ControllerConfig.default_for(count)


def test_copy_config_refuses_to_pad_to_a_huge_zone_count() -> None:
    source = Controller(id=new_id(), customer_id="k", name="A", zone_count=4,
                        config=ControllerConfig.default_for(4))
    target = Controller(id=new_id(), customer_id="k", name="B", zone_count=HUGE)
    with pytest.raises(ValidationError, match="between 1 and 200"):
        target.copy_config_from(source)


def test_details_form_reports_a_huge_zone_count_without_building_zones() -> None:
    controller = Controller(id=new_id(), customer_id="k", name="Yard", zone_count=12,
                            config=ControllerConfig.default_for(12))
    _fields, build = controller_form(controller)
    typed = {"name": "Yard", "model": "FT-8", "zone_count": HUGE, "serial": "",
             "timezone": "UTC", "location": "", "notes": ""}
    record, errors = build(typed)
    assert [e.field for e in errors] == ["zone_count"]
    assert "between 1 and 200" in errors[0].message
    assert len(record.config.zones) == 12  # nothing was padded


def test_new_controller_form_reports_a_huge_zone_count() -> None:
    _fields, build = new_controller_form(Customer(id="k", name="Rosa"))
    typed = {"name": "Yard", "model": "FT-8", "zone_count": HUGE, "serial": "",
             "timezone": "UTC", "location": "", "notes": ""}
    _record, errors = build(typed)
    assert [e.field for e in errors] == ["zone_count"]


def test_edit_service_refuses_a_huge_zone_count(store: Store, customer: Customer) -> None:
    controller = make_controller(customer, zones=4)
    store.create_controller(controller)
    edits = EditService(store)
    from dataclasses import replace

    with pytest.raises(ValidationError, match="between 1 and 200"):
        edits.update_controller(controller.id, replace(controller, zone_count=HUGE))
    assert store.controller(controller.id).zone_count == 4


@pytest.mark.parametrize("text", ["1-99999999", "1-99999999999999999999", "0-3", "3-1"])
def test_zone_test_ranges_are_checked_before_they_are_listed(text: str) -> None:
    assert parse_zones(text, 8) == []


def test_a_device_reporting_a_huge_zone_count_gets_at_most_200_zones_tested() -> None:
    assert parse_zones("1-99999999", HUGE) == []
    assert parse_zones("1-200", HUGE) == list(range(1, 201))
    fields, build = zone_test_form(HUGE)
    assert fields[0].value == "1-200"
    test, errors = build({"zones": "1-300", "seconds": 5})
    assert test is None and errors[0].field == "zones"


def test_program_zone_numbers_out_of_range_are_errors_not_zones() -> None:
    _fields, build = program_form(Program(name="P"), 8)
    typed = {"name": "P", "enabled": True, "schedule": Program(name="P").schedule,
             "days": "Mon", "interval_days": 2, "start_times": "06:00",
             "zone_minutes": f"{HUGE}=5"}
    _program, errors = build(typed)
    assert any("does not exist" in e.message for e in errors)


def test_seeding_refuses_a_huge_count_before_generating(store: Store) -> None:
    with pytest.raises(ValueError, match="between 1 and 100,000"):
        seed_store(store, HUGE, 10)
    assert store.counts() == (0, 0)


# -- every error at once, each once (issue 12, item 11) ---------------------------------------

def _program_typed(**typed: str) -> dict:
    from fieldtech.domain.models import ScheduleKind

    return {"name": "P", "enabled": True, "schedule": ScheduleKind.WEEKDAYS, "days": "Mon",
            "interval_days": 2, "start_times": "06:00", "zone_minutes": "", **typed}


def test_a_word_that_is_not_a_day_is_one_error_not_two() -> None:
    _fields, build = program_form(Program(name="P"), 8)
    _program, errors = build(_program_typed(days="Funday Mon Monkey"))
    assert [e.field for e in errors] == ["days"]
    assert "“Funday”, “Monkey” are not a day" in errors[0].message
    _program, errors = build(_program_typed(days="mon THURSDAY tu"))
    assert errors == []


def test_too_many_start_times_and_a_bad_one_are_both_reported() -> None:
    _fields, build = program_form(Program(name="P"), 8)
    _program, errors = build(_program_typed(start_times="01:00 02:00 03:00 04:00 25:99"))
    messages = " ".join(e.message for e in errors)
    assert "At most 4 start times" in messages and "25:99" in messages


def test_a_suspension_date_in_the_past_is_refused_in_the_form() -> None:
    from datetime import date, timedelta

    from fieldtech.domain.models import Zone
    from fieldtech.forms.records import zone_form

    zone = Zone(1, "Lawn")
    _fields, build = zone_form(zone, 8, date.today())
    typed = {"name": "Lawn", "enabled": True, "run_minutes": 10, "cycle_minutes": None,
             "soak_minutes": None, "master_valve": False, "seasonal_adjust_pct": 100}
    _zone, errors = build({**typed, "suspended_until": "2020-01-01"})
    assert [e.field for e in errors] == ["suspended_until"] and "passed" in errors[0].message
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    _zone, errors = build({**typed, "suspended_until": tomorrow})
    assert errors == []


@pytest.mark.parametrize(("phone", "ok"), [("abc", False), ("12", False), ("+1 555-201-3344", True),
                                           ("(555) 201 3344 ext. 12", True),
                                           ("1-800-FLOWERS", True), ("", True)])
def test_a_phone_number_has_digits(phone: str, ok: bool) -> None:
    from fieldtech.domain.validation import validate_customer

    errors = validate_customer(Customer(id="k", name="Rosa", phone=phone))
    assert (errors == []) is ok, errors
