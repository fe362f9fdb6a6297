"""TOML export/import of a configuration, templates, and the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldtech.domain import ValidationError
from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import seed_store
from fieldtech.services import config_files
from fieldtech.services.settings import Settings
from tests.conftest import make_controller


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_store(store, 5, 12)
    return store


def test_export_then_import_round_trips(seeded: Store, tmp_path: Path) -> None:
    row = seeded.fleet_rows()[3]
    original = seeded.controller(row.controller_id)
    path = config_files.export_controller(original, tmp_path / "out" / "c.toml")
    assert 'format = "fieldtech-controller-config"' in path.read_text()
    assert config_files.read_config(path, original.zone_count) == original.config
    # Through the store: import onto another controller with the same zone count.
    other = make_controller(seeded.customer(original.customer_id), zones=original.zone_count)
    seeded.create_controller(other)
    assert seeded.controller(other.id).config != original.config
    seeded.update_controller(other.id, config=config_files.read_config(path, other.zone_count))
    assert seeded.controller(other.id).config == original.config


def test_import_of_bad_file_changes_nothing(seeded: Store, tmp_path: Path) -> None:
    row = seeded.fleet_rows()[0]
    c = seeded.controller(row.controller_id)
    path = config_files.export_controller(c, tmp_path / "c.toml")
    text = path.read_text().replace("run_minutes = ", "run_minutes = 9", 1)
    path.write_text(text)
    with pytest.raises(ValidationError) as err:
        config_files.read_config(path, c.zone_count)
    assert any(e.field.endswith("run_minutes") for e in err.value.errors)

    (tmp_path / "broken.toml").write_text("format = \n")
    with pytest.raises(ValidationError, match="not valid TOML"):
        config_files.read_config(tmp_path / "broken.toml", 8)
    (tmp_path / "other.toml").write_text('title = "x"\n')
    with pytest.raises(ValidationError, match="not a fieldtech"):
        config_files.read_config(tmp_path / "other.toml", 8)
    assert seeded.controller(row.controller_id) == c


def test_more_zones_in_file_than_controller_is_refused(seeded: Store, tmp_path: Path) -> None:
    row = max(seeded.fleet_rows(), key=lambda r: r.zone_count)
    path = config_files.export_controller(seeded.controller(row.controller_id), tmp_path / "c.toml")
    with pytest.raises(ValidationError, match="does not exist"):
        config_files.read_config(path, 2)


def test_settings_round_trip_and_no_secrets(tmp_path: Path) -> None:
    s = Settings.load(tmp_path)
    assert s.theme == "textual-dark" and s.pinned == []
    s.toggle_pin("a")
    s.keys["finder"] = "ctrl+f"
    s.save()
    again = Settings.load(tmp_path)
    assert again.pinned == ["a"] and again.keys == {"finder": "ctrl+f"}
    assert "token" not in (tmp_path / "settings.toml").read_text().lower()


def test_broken_settings_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("theme = [unclosed\n")
    s = Settings.load(tmp_path)
    assert s.problem and "could not be read" in s.problem
    s.toggle_pin("x")
    s.save()
    assert path.read_text() == "theme = [unclosed\n"


def test_ssh_profile_defaults_from_environment(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    assert Settings.load(tmp_path).use_ssh_profile() is False
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 5000 127.0.0.1 22")
    assert Settings.load(tmp_path).use_ssh_profile() is True
    assert Settings.load(tmp_path).blink() is False  # no blinking cursor over SSH
    s = Settings.load(tmp_path)
    s.ssh_profile = False
    assert s.use_ssh_profile() is False and s.blink() is True
    s.cursor_blink = False
    s.save()
    assert Settings.load(tmp_path).blink() is False


@pytest.mark.parametrize(("written", "read"), [
    ("", 60), ("sync_every_s = 300", 300), ("sync_every_s = 0", 0),  # 0: only on demand
    ("sync_every_s = 2", 10),  # not a busy loop
    ("sync_every_s = -5", 60), ('sync_every_s = "often"', 60), ("sync_every_s = true", 60)])
def test_sync_period_setting(tmp_path: Path, written: str, read: int) -> None:
    (tmp_path / "settings.toml").write_text(written + "\n")
    s = Settings.load(tmp_path)
    assert s.sync_every_s == read and s.problem is None
    s.save()
    assert Settings.load(tmp_path).sync_every_s == read


@pytest.mark.parametrize(("written", "read"), [
    ("", 30), ("canary_limit_minutes = 45", 45), ("canary_limit_minutes = 0", 30),
    ('canary_limit_minutes = "soon"', 30), ("canary_limit_minutes = true", 30)])
def test_canary_time_limit_setting(tmp_path: Path, written: str, read: int) -> None:
    (tmp_path / "settings.toml").write_text(written + "\n")
    s = Settings.load(tmp_path)
    assert s.canary_limit_minutes == read and s.problem is None
    s.save()
    assert Settings.load(tmp_path).canary_limit_minutes == read
