"""Where mDNS listens on site: every interface unless settings.toml narrows it."""

from __future__ import annotations

from pathlib import Path

from fieldtech.app import FieldtechApp
from fieldtech.offline_store import Store
from fieldtech.services.settings import Settings


def test_mdns_interfaces_default_to_all_and_round_trip(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path)
    assert settings.mdns_interfaces is None  # None = every interface (the real default)
    settings.mdns_interfaces = ["192.168.1.10"]
    settings.save()
    assert Settings.load(tmp_path).mdns_interfaces == ["192.168.1.10"]
    (tmp_path / "settings.toml").write_text('mdns_interfaces = "eth0"\n')
    assert Settings.load(tmp_path).mdns_interfaces is None  # not a list: ignored


def test_the_app_takes_the_setting_unless_told_otherwise(tmp_path: Path) -> None:
    settings = Settings(mdns_interfaces=["192.168.1.10"])
    with Store(tmp_path / "store.db") as store:
        assert FieldtechApp(store, settings, tmp_path).mdns_interfaces == ["192.168.1.10"]
        pinned = FieldtechApp(store, settings, tmp_path, mdns_interfaces=["127.0.0.1"])
        assert pinned.mdns_interfaces == ["127.0.0.1"]
        assert FieldtechApp(store, Settings(), tmp_path).mdns_interfaces is None
