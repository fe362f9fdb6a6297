"""`fieldtech sync` for cron: a one-line summary and an exit code that says what to do."""

from __future__ import annotations

import pytest
from flaky_network import FlakyProxy

from fieldtech.cli import main
from fieldtech.cloud.session import connect
from fieldtech.cloud.sync import SyncEngine, resolve_conflict
from fieldtech.domain.models import Controller, ControllerConfig, new_id
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.paths import data_dir, store_path
from fieldtech.offline_store.store import Store


@pytest.fixture
def signed_in_by_env(seeded, monkeypatch):
    account = seeded(4, 8, Tier.CONTRACTOR)
    monkeypatch.setenv("FIELDTECH_TOKEN", account.token)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", account.url)
    return account


def test_sync_prints_a_summary_and_exits_zero(signed_in_by_env, capsys) -> None:
    assert main(["sync"]) == 0
    assert "0 applied, 12 updated from the cloud. 0 edits pending." in capsys.readouterr().out
    with Store(store_path(data_dir())) as store:
        assert store.counts() == (4, 8)
        cid = store.fleet_rows()[0].controller_id
        store.update_controller(cid, notes="from the van")
    assert main(["sync"]) == 0
    assert capsys.readouterr().out.startswith("1 applied")
    assert main(["sync", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_sync_exits_3_when_a_conflict_waits_for_a_person(signed_in_by_env, capsys,
                                                         tmp_path) -> None:
    assert main(["sync"]) == 0
    with Store(store_path(data_dir())) as store:
        cid = store.fleet_rows()[0].controller_id
        store.update_controller(cid, notes="mine")
    with Store(tmp_path / "other.db") as other:  # a colleague's laptop
        engine = SyncEngine(other, connect())
        engine.sync()
        other.update_controller(cid, notes="theirs")
        engine.sync()
    capsys.readouterr()
    assert main(["sync"]) == 3
    err = capsys.readouterr().err
    assert "1 conflict" in err and "1 edit pending" in err
    assert "press u (pending changes)" in err  # the key, named (issue 12)


def test_sync_names_the_pending_key_as_remapped(signed_in_by_env, capsys, tmp_path) -> None:
    from fieldtech.services.settings import Settings

    settings = Settings.load()
    settings.keys["pending"] = "ctrl+o,U"
    settings.save()
    assert main(["sync"]) == 0
    with Store(store_path(data_dir())) as store:
        cid = store.fleet_rows()[0].controller_id
        store.update_controller(cid, notes="mine")
    with Store(tmp_path / "other.db") as other:
        engine = SyncEngine(other, connect())
        engine.sync()
        other.update_controller(cid, notes="theirs")
        engine.sync()
    capsys.readouterr()
    assert main(["sync"]) == 3
    assert "press ctrl+o (pending changes)" in capsys.readouterr().err


def test_sync_keeps_exiting_3_while_a_conflict_or_a_refusal_waits(seeded, monkeypatch, capsys,
                                                                  tmp_path) -> None:
    """Cron runs it again and again: what waits must show every time, not only the first."""
    account = seeded(4, 25, Tier.STARTER)  # 25 of 25: a new controller is refused
    monkeypatch.setenv("FIELDTECH_TOKEN", account.token)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", account.url)
    assert main(["sync"]) == 0
    with Store(store_path(data_dir())) as store:
        row = store.fleet_rows()[0]
        store.update_controller(row.controller_id, notes="mine")
        extra = Controller(id=new_id(), customer_id=row.customer_id, name="Twenty-sixth",
                           zone_count=4, config=ControllerConfig.default_for(4))
        create = store.create_controller(extra)
    with Store(tmp_path / "other.db") as other:  # a colleague's laptop
        engine = SyncEngine(other, connect())
        engine.sync()
        other.update_controller(row.controller_id, notes="theirs")
        engine.sync()
    capsys.readouterr()
    assert main(["sync"]) == 3
    assert "1 conflict waiting, 1 needs a plan upgrade" in capsys.readouterr().err

    assert main(["sync"]) == 3  # nothing new, but both still wait
    err = capsys.readouterr().err
    assert err.startswith("0 applied. 1 conflict waiting, 1 needs a plan upgrade. "
                          "2 edits pending."), err
    assert main(["sync", "--quiet"]) == 3
    assert "1 conflict waiting" in capsys.readouterr().err

    with Store(store_path(data_dir())) as store:  # the technician decides
        resolve_conflict(store, "controller", row.controller_id, set())  # keep mine
        store.discard(create.id)
    assert main(["sync"]) == 0
    assert capsys.readouterr().out == "1 applied. 0 edits pending.\n"
    assert main(["sync"]) == 0
    assert capsys.readouterr().out == "0 applied. 0 edits pending.\n"
    assert account.get(f"/v1/controllers/{row.controller_id}")["notes"] == "mine"


def test_sync_exits_2_when_the_cloud_is_unreachable_and_keeps_edits(
        signed_in_by_env, capsys, monkeypatch) -> None:
    assert main(["sync"]) == 0
    with Store(store_path(data_dir())) as store:
        store.update_controller(store.fleet_rows()[0].controller_id, notes="offline edit")
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "Cannot reach the cloud" in err and "1 edit pending" in err
    with Store(store_path(data_dir())) as store:
        assert store.pending_count() == 1


def test_sync_behind_a_captive_portal_says_so_in_one_line_and_exits_2(
        signed_in_by_env, capsys, monkeypatch) -> None:
    assert main(["sync"]) == 0
    with Store(store_path(data_dir())) as store:
        store.update_controller(store.fleet_rows()[0].controller_id, notes="at the café")
    capsys.readouterr()
    with FlakyProxy(signed_in_by_env.url, ["html"] * 10) as portal:
        monkeypatch.setenv("FIELDTECH_CLOUD_URL", portal.url)
        assert main(["sync"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err  # one line, no traceback
    assert f"The server at {portal.url} did not answer as a fieldtech cloud" in err
    assert err.rstrip().endswith("1 edit pending.")
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", signed_in_by_env.url)  # a real network again
    assert main(["sync"]) == 0
    assert capsys.readouterr().out.startswith("1 applied")


def test_sync_without_sign_in_says_how(capsys) -> None:
    assert main(["sync"]) == 1
    assert "fieldtech login" in capsys.readouterr().err
