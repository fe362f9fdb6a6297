"""The edit service's rules on a real SQLite store, with no Textual anywhere.

Every change a person can make goes through `EditService`; these tests hold its rules: what is
validated, what is queued for the cloud, what an edit is applied to, what a deletion means.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fieldtech.controller_link import DeviceInfo
from fieldtech.domain import Customer, ValidationError, new_id
from fieldtech.domain.errors import FieldtechError, NotFound, StillNeeded
from fieldtech.domain.models import Account, Program, ScheduleKind
from fieldtech.domain.plans import Tier
from fieldtech.offline_store import Store
from fieldtech.services import config_files
from fieldtech.services.edits import EditService
from tests.conftest import make_controller


@pytest.fixture
def edits(store: Store) -> EditService:
    return EditService(store)


def test_the_edit_service_loads_without_textual() -> None:
    code = ("import sys, fieldtech.services.edits; "
            "sys.exit(any(n.split('.')[0] == 'textual' for n in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_creating_queues_each_record_once(edits: EditService, store: Store) -> None:
    customer = Customer(id=new_id(), name="Ana Chen", address="908 Elm Ave")
    made = edits.create_customer(customer)
    controller = make_controller(customer, zones=4)
    placed = edits.create_controller(controller)
    assert made.changed and placed.changed
    assert (made.record_id, placed.record_id) == (customer.id, controller.id)
    assert [(e.op, e.entity) for e in store.outbox()] == [("create", "customer"),
                                                          ("create", "controller")]
    assert placed.summary == "Controller Front yard"


def test_an_invalid_record_names_every_bad_field_and_saves_nothing(
        edits: EditService, store: Store) -> None:
    bad = Customer(id=new_id(), name="", email="not an e-mail")
    with pytest.raises(ValidationError) as raised:
        edits.create_customer(bad)
    assert {e.field for e in raised.value.errors} >= {"name", "email"}
    assert store.outbox() == [] and store.customers() == []


def test_an_edit_that_changes_nothing_queues_nothing(edits: EditService, store: Store,
                                                     customer: Customer) -> None:
    before = store.pending_count()
    edit = edits.update_customer(customer.id, customer)
    assert not edit.changed and store.pending_count() == before


def test_fewer_zones_cut_the_zones_and_the_programs_that_used_them(
        edits: EditService, store: Store, customer: Customer) -> None:
    controller = make_controller(customer, zones=8)
    edits.create_controller(controller)
    program = Program(name="Mornings", schedule=ScheduleKind.WEEKDAYS, days=[0, 2],
                      start_times=["05:30"], zone_minutes={2: 10, 7: 15})
    edits.save_program(controller.id, program, None)
    edits.update_controller(controller.id, replace(controller, zone_count=4))
    after = store.controller(controller.id)
    assert after.zone_count == 4 and [z.number for z in after.config.zones] == [1, 2, 3, 4]
    assert after.config.programs[0].zone_minutes == {2: 10}


def test_edits_from_one_stale_copy_do_not_overwrite_each_other(
        edits: EditService, store: Store, customer: Customer) -> None:
    controller = make_controller(customer, zones=4)
    edits.create_controller(controller)
    seen = store.controller(controller.id)  # what a screen showed, before both edits
    edits.set_zone(controller.id, replace(seen.config.zones[0], name="Front lawn"))
    edits.set_zone(controller.id, replace(seen.config.zones[1], name="Back beds"))
    names = [z.name for z in store.controller(controller.id).config.zones]
    assert names[:2] == ["Front lawn", "Back beds"]


def test_deleting_a_program_that_changed_meanwhile_deletes_nothing(
        edits: EditService, store: Store, customer: Customer) -> None:
    controller = make_controller(customer, zones=4)
    edits.create_controller(controller)
    shown = Program(name="Evenings", start_times=["19:00"], zone_minutes={1: 5})
    edits.save_program(controller.id, shown, None)
    edits.save_program(controller.id, replace(shown, name="Evenings (edited elsewhere)"), 0)
    gone = edits.delete_program(controller.id, shown)
    assert not gone.changed
    assert [p.name for p in store.controller(controller.id).config.programs] == [
        "Evenings (edited elsewhere)"]
    assert edits.delete_program(controller.id, store.controller(controller.id)
                                .config.programs[0]).changed


def test_an_import_with_errors_changes_nothing(edits: EditService, store: Store,
                                               customer: Customer, tmp_path: Path) -> None:
    controller = make_controller(customer, zones=4)
    edits.create_controller(controller)
    source = store.controller(controller.id)
    source.config.zones[2].name = "Drip line"
    good = config_files.export_controller(source, tmp_path / "good.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("version = 1", "version = 99"))
    before = store.pending_count()
    with pytest.raises(ValidationError):
        edits.import_config(controller.id, bad)
    assert store.pending_count() == before
    imported = edits.import_config(controller.id, good)
    assert imported.summary == "Imported good.toml" and imported.changed
    assert store.controller(controller.id).config.zone(3).name == "Drip line"


def test_copying_from_a_controller_that_is_gone_is_a_clear_error(
        edits: EditService, customer: Customer) -> None:
    controller = make_controller(customer)
    edits.create_controller(controller)
    with pytest.raises(NotFound, match="no longer exists"):
        edits.copy_config_from(controller.id, new_id())


def test_a_deletion_says_what_it_means_before_it_happens(
        edits: EditService, store: Store, customer: Customer) -> None:
    controller = make_controller(customer)
    edits.create_controller(controller)
    asked = edits.deletion("customer", customer.id)
    assert asked.blocked and "still has 1 controller" in asked.blocked
    with pytest.raises(StillNeeded):
        edits.delete("customer", customer.id)
    never_sent = edits.deletion("controller", controller.id)
    assert never_sent.never_synced and "cannot be undone" in never_sent.question()
    edits.delete("controller", controller.id)
    assert edits.deletion("customer", customer.id).blocked is None
    edits.delete("customer", customer.id)
    assert store.customers() == [] and store.outbox() == []  # never sent: nothing to tell


def test_over_the_plan_the_controller_is_kept_and_says_the_cloud_decides(
        edits: EditService, store: Store, customer: Customer) -> None:
    store.set_account(Account(id=new_id(), name="Greenline", tier=Tier.STARTER))
    for n in range(25):
        edits.create_controller(make_controller(customer, name=f"C{n}"))
    assert "over the limit" in (edits.quota_warning() or "")
    extra = edits.create_controller(make_controller(customer, name="One too many"))
    assert extra.changed and "the cloud decides" in extra.summary


def test_binding_a_device_takes_its_serial_and_refuses_a_second_record(
        edits: EditService, store: Store, customer: Customer) -> None:
    first, second = make_controller(customer), make_controller(customer, name="Back")
    edits.create_controller(first)
    edits.create_controller(second)
    device = DeviceInfo(driver="native", address="http://127.0.0.1:9", serial="FT1-0000ABCD",
                        model="FT-8", zone_count=6)
    edit, _warnings = edits.bind_device(first.id, device)
    assert edit.changed and store.controller(first.id).serial == "FT1-0000ABCD"
    with pytest.raises(FieldtechError):
        edits.bind_device(second.id, device)
    assert store.controller(second.id).serial is None


# -- overwrites: configuration only, said before (issue 12, items 3–5) ------------------------

def _with_state(store: Store, controller_id: str) -> None:
    from datetime import UTC, date, datetime, timedelta

    rain = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    store.edit_controller(controller_id, lambda c: {"config": replace(
        c.config, rain_delay_until=rain,
        zones=[replace(z, suspended_until=date(2099, 1, 1)) if z.number == 2 else z
               for z in c.config.zones])})


def test_a_template_carries_configuration_only(edits: EditService, store: Store,
                                               customer: Customer, tmp_path: Path) -> None:
    source = make_controller(customer, zones=4, name="Source")
    store.create_controller(source)
    _with_state(store, source.id)
    path = edits.export_config(source.id, tmp_path / "t.toml", template=True)
    text = path.read_text()
    assert "rain_delay_until" not in text and "suspended_until" not in text
    exported = edits.export_config(source.id, tmp_path / "e.toml").read_text()
    assert "rain_delay_until" in exported  # an export is the controller as it is


def test_importing_or_copying_keeps_the_targets_own_state(edits: EditService, store: Store,
                                                          customer: Customer,
                                                          tmp_path: Path) -> None:
    source = make_controller(customer, zones=4, name="Source")
    target = make_controller(customer, zones=4, name="Target")
    store.create_controller(source)
    store.create_controller(target)
    _with_state(store, source.id)
    store.edit_controller(source.id, lambda c: {"config": replace(c.config, zones=[
        replace(z, name=f"Bed {z.number}") for z in c.config.zones])})
    exported = edits.export_config(source.id, tmp_path / "e.toml")
    edits.import_config(target.id, exported)
    after = store.controller(target.id).config
    assert after.zone(1).name == "Bed 1"
    assert after.rain_delay_until is None and after.zone(2).suspended_until is None

    _with_state(store, target.id)
    held = store.controller(target.id).config
    store.edit_controller(source.id, lambda c: {"config": replace(
        c.config, rain_delay_until=None, zones=[replace(z, suspended_until=None, name="X")
                                                for z in c.config.zones])})
    edits.copy_config_from(target.id, source.id)
    copied = store.controller(target.id).config
    assert copied.zone(1).name == "X"
    assert copied.rain_delay_until == held.rain_delay_until
    assert copied.zone(2).suspended_until == held.zone(2).suspended_until


def test_what_an_overwrite_changes_is_said_before(edits: EditService, store: Store,
                                                  customer: Customer) -> None:
    source = make_controller(customer, zones=4, name="Source")
    target = make_controller(customer, zones=4, name="Target")
    store.create_controller(source)
    store.create_controller(target)
    store.edit_controller(source.id, lambda c: {"config": replace(c.config, zones=[
        replace(z, name="Roses") if z.number == 3 else z for z in c.config.zones],
        programs=[Program("Dawn", start_times=["05:30"])])})
    lines = edits.copy_overwrites(target.id, source.id)
    assert 'zone 3 name: “Zone 3” → “Roses”' in lines
    assert "program “Dawn” added" in lines
    assert edits.overwrites(target.id, store.controller(target.id).config) == []


def test_fewer_zones_name_what_goes(edits: EditService, store: Store,
                                    customer: Customer) -> None:
    controller = make_controller(customer, zones=12)
    store.create_controller(controller)
    store.edit_controller(controller.id, lambda c: {"config": replace(c.config, programs=[
        Program("Deep", zone_minutes={2: 5, 9: 10})])})
    lines = edits.resize_losses(controller.id, 4)
    assert "zones 5–12 removed" in lines
    assert any("program “Deep” zone minutes" in line for line in lines)
    assert edits.resize_losses(controller.id, 12) == []
    assert edits.resize_losses(controller.id, 20) == []


def test_a_new_controller_takes_the_customers_time_zone(edits: EditService, store: Store,
                                                         customer: Customer) -> None:
    """Not UTC (issue 12): the customer's other controllers' zone, else the account's."""
    assert edits.new_controller_defaults(customer.id) == {}
    store.create_controller(make_controller(customer, timezone="America/Denver"))
    assert edits.new_controller_defaults(customer.id) == {"timezone": "America/Denver"}
    other = Customer(id=new_id(), name="Ben Ito")
    store.create_customer(other)
    assert edits.new_controller_defaults(other.id) == {"timezone": "America/Denver"}
    store.create_controller(make_controller(other, timezone="America/Phoenix"))
    assert edits.new_controller_defaults(other.id) == {"timezone": "America/Phoenix"}
