"""Hand-written and mangled configuration files: every problem is a field error, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldtech.domain import ValidationError
from fieldtech.domain.models import Controller
from fieldtech.offline_store import Store
from fieldtech.services import config_files
from tests.conftest import make_controller

HEADER = 'format = "fieldtech-controller-config"\nversion = 1\n'
ZONE = '[[config.zones]]\nnumber = 1\nname = "Front"\n'


def read(tmp_path: Path, text: str, zone_count: int = 4) -> Any:
    path = tmp_path / "hand.toml"
    path.write_text(text, encoding="utf-8")
    return config_files.read_config(path, zone_count)


def errors_of(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(ValidationError) as err:
        read(tmp_path, text)
    return {e.field: e.message for e in err.value.errors}


# (what a technician might write, the field the error must be at, words the message must say)
BAD = [
    ('format = "fieldtech-controller-config"\nversion = "two"\n[config]\n' + ZONE,
     "version", "whole number"),
    ('format = "fieldtech-controller-config"\nversion = 1.5\n', "version", "whole number"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\ndays = ["mon"]\n',
     "programs.0.days", "0 (Monday) to 6 (Sunday)"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\ndays = 3\n',
     "programs.0.days", "list"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nschedule = "weekly"\n',
     "programs.0.schedule", "weekdays, odd, even, interval"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nstart_times = "06:00"\n',
     "programs.0.start_times", "list"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nstart_times = [600]\n',
     "programs.0.start_times", '"06:00"'),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nzone_minutes = { front = 5 }\n',
     "programs.0.zone_minutes.front", "numbered"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nzone_minutes = { "1" = "ten" }\n',
     "programs.0.zone_minutes.1", "whole number"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nzone_minutes = { "1" = 2.5 }\n',
     "programs.0.zone_minutes.1", "whole number"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nzone_minutes = 5\n',
     "programs.0.zone_minutes", "table"),
    (HEADER + ZONE + '[[config.programs]]\nname = "Lawn"\nenabled = "yes"\n',
     "programs.0.enabled", "true or false"),
    (HEADER + ZONE + '[[config.programs]]\ndays = [1]\n', "programs.0.name", "required"),
    (HEADER + '[[config.zones]]\nname = "Front"\n', "zones.#1.number", "required"),
    (HEADER + '[[config.zones]]\nnumber = [1]\nname = "Front"\n', "zones.#1.number",
     "whole number"),
    (HEADER + '[[config.zones]]\nnumber = "1"\nname = "Front"\n', "zones.#1.number",
     "whole number"),
    (HEADER + ZONE + 'run_minute = 12\n', "zones.1.run_minute", "Did you mean run_minutes"),
    (HEADER + ZONE + 'suspended_until = "next week"\n', "zones.1.suspended_until", "YYYY-MM-DD"),
    (HEADER + ZONE + 'suspended_until = 2025-06-01T08:00:00\n', "zones.1.suspended_until",
     "YYYY-MM-DD"),
    (HEADER + '[config]\nzones = "all"\n', "zones", "list"),
    (HEADER + '[config]\nzones = [1, 2]\n', "zones.#1", "[[config.zones]]"),
    (HEADER + '[config]\nrain_delay_until = "tomorrow"\n' + ZONE, "rain_delay_until",
     "date and time"),
    (HEADER + '[config]\nrain_delay_until = 2025-06-01T08:00:00\n' + ZONE, "rain_delay_until",
     "offset from UTC"),
    (HEADER + '[config]\nrain_delay_until = 2025-06-01\n' + ZONE, "rain_delay_until",
     "offset from UTC"),
    (HEADER + "[config]\n", "zones", "no zones"),
    (HEADER + '[config]\n"" = []\n' + ZONE, '""', "does not know this field"),
]


@pytest.mark.parametrize(("text", "field", "words"), BAD)
def test_each_malformed_value_is_an_error_at_its_field(tmp_path: Path, text: str, field: str,
                                                       words: str) -> None:
    errors = errors_of(tmp_path, text)
    assert field in errors, errors
    assert words in errors[field]
    for message in errors.values():
        assert "invalid literal" not in message and "Could not read this" not in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HEADER + ZONE + 'run_minute = 1\n[[config.programs]]\n'
                       'name = "Lawn"\ndays = ["mon"]\nschedule = "weekly"\n')
    assert {"zones.1.run_minute", "programs.0.days", "programs.0.schedule"} <= set(errors)


def test_hand_written_good_values_are_read(tmp_path: Path) -> None:
    config = read(tmp_path, HEADER + '[config]\nrain_delay_until = 2025-06-01T08:00:00+02:00\n'
                  + ZONE + 'suspended_until = 2025-07-01\n[[config.programs]]\nname = "Lawn"\n'
                  'days = [0, 3]\nzone_minutes = { "1" = 12 }\n')
    assert config.rain_delay_until is not None and config.rain_delay_until.utcoffset()
    assert config.zone(1).suspended_until.isoformat() == "2025-07-01"
    assert config.programs[0].days == [0, 3] and config.programs[0].zone_minutes == {1: 12}


def test_a_folder_says_to_type_a_file_and_names_the_newest(tmp_path: Path) -> None:
    (tmp_path / "old.toml").write_text("x = 1\n")
    newest = tmp_path / "new.toml"
    newest.write_text("x = 1\n")
    import os
    os.utime(tmp_path / "old.toml", (1, 1))
    with pytest.raises(ValidationError) as err:
        config_files.read_config(tmp_path, 4)
    message = err.value.errors[0].message
    assert "Type the path of a .toml file" in message and str(newest) in message
    assert config_files.newest(tmp_path) == newest
    assert config_files.newest(tmp_path / "missing") is None


# -- fuzz: a valid export, with values swapped for values of any other TOML kind -------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
    st.text(max_size=12), st.dates(), st.datetimes(), st.times(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


def _paths(value: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a document where a value could be replaced."""
    found = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*at, i))
    return found


def _replace(doc: Any, path: tuple, new: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    if new is None:
        del doc[path[-1]]
    else:
        doc[path[-1]] = new


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Controller, dict]:
    import tomllib

    from fieldtech.domain.models import Customer, Program, ScheduleKind, new_id

    customer = Customer(id=new_id(), name="Rosa Patel")
    c = make_controller(customer, zones=4)
    c.config.programs = [Program("Lawn", days=[0, 2], zone_minutes={1: 10, 3: 5}),
                         Program("Beds", schedule=ScheduleKind.INTERVAL, interval_days=3)]
    c.config.zones[1].cycle_minutes, c.config.zones[1].soak_minutes = 5, 10
    return c, tomllib.loads(config_files.to_toml(c))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_documents_raise_only_validation_errors(exported, tmp_path: Path,
                                                       data: st.DataObject) -> None:
    import copy

    controller, doc = exported
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        places = _paths(doc)
        path = data.draw(st.sampled_from(places))
        _replace(doc, path, data.draw(VALUES))
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # not representable in TOML (e.g. a list holding None)
        return
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config_files.read_config(path, controller.zone_count)
    except ValidationError as exc:
        assert exc.errors
        for e in exc.errors:
            assert e.field and e.message
            assert "Could not read this" not in e.message, e  # the domain's raw fallback
            assert "Could not read this file" not in e.message, e  # config_files' fallback


def test_a_refused_import_leaves_the_store_as_it_was(store: Store, customer, tmp_path: Path
                                                     ) -> None:
    c = make_controller(customer, zones=4)
    store.create_controller(c)
    before, pending = store.controller(c.id), store.pending_count()
    for text, _field, _words in BAD:
        with pytest.raises(ValidationError):
            store.update_controller(c.id, config=read(tmp_path, text))
    assert store.controller(c.id) == before and store.pending_count() == pending
