"""The seeder (issue 17: 100,000 controllers): the same accounts as before, written as rows and
JSON text directly, and a new store bulk-loaded beside its path and moved there whole."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from fieldtech.offline_store import Store
from fieldtech.offline_store.seed import (
    SEEDING_SUFFIX,
    _draw_controllers,
    _generate,
    _record_json,
    _uuid4_text,
    generate_account,
    seed_new_store,
    seed_store,
)

DAY = date(2026, 6, 1)


def _account_digest(customers: int, controllers: int, seed: int) -> str:
    made = generate_account(customers, controllers, seed=seed, today=DAY)
    h = hashlib.sha256(json.dumps(made.account.to_dict()).encode())
    for customer in made.customers:
        h.update(json.dumps(customer.to_dict()).encode())
    for controller, rev, state, fault in made.controllers:
        data = controller.to_dict()
        for program in data["config"]["programs"]:
            program.pop("id")  # a new uuid on every run, not drawn from the seed
        h.update(json.dumps([data, rev, state.value, fault]).encode())
    return h.hexdigest()


@pytest.mark.parametrize(("customers", "controllers", "seed", "digest"), [
    (5, 24, 7, "e216de47ffa28a5b816d6fcb733ebad646eae1b8897da336e20bff20bd542357"),
    (30, 7000, 21, "0774afd5b6308f62391a818557a9c6433d6808d68c5661c45043fa7508f08e53"),
])
def test_a_seed_makes_the_account_it_made_before_the_draws_were_written_out(
        customers: int, controllers: int, seed: int, digest: str) -> None:
    """The digests were taken from the seeder that drew with random.choice, sample, randrange
    and choices: every demo, snapshot and bench account stays the same."""
    assert _account_digest(customers, controllers, seed) == digest


def test_the_rows_written_are_the_json_of_the_controllers() -> None:
    """Seeding writes each configuration's text without building the objects: it must be the
    very text json.dumps makes of the Controller the cloud gets (drawn alike as objects; the
    programs' ids are new on every draw, not from the seed)."""
    import random
    import re

    def same_ids(text: str) -> str:
        return re.sub(r'"id": "[0-9a-f-]{36}"}', '"id": ""}', text)

    made = generate_account(40, 40)
    as_text = list(_draw_controllers(random.Random(5), made.customers * 50, DAY, values=False))
    as_objects = list(_draw_controllers(random.Random(5), made.customers * 50, DAY))
    controllers = [c.controller() for c, *_ in as_objects]
    assert any(z.suspended_until for c in controllers for z in c.config.zones)  # suspensions …
    assert any(c.config.rain_delay_until for c in controllers)  # … and rain delays are in it
    for (made_controller, rev, state, fault), controller in zip(as_text, controllers,
                                                                 strict=True):
        data = controller.to_dict()
        assert same_ids(made_controller.config_json()) == same_ids(json.dumps(data.pop("config")))
        assert made_controller.record() == data
        assert _record_json(made_controller.row(state, fault, rev)) == json.dumps(data)
    numbers = [random.Random(3).getrandbits(128) for _ in range(50)] + [0, (1 << 128) - 1]
    import uuid
    assert [_uuid4_text(n) for n in numbers] == [str(uuid.UUID(int=n, version=4))
                                                 for n in numbers]


def _contents(path: Path) -> dict[str, list]:
    """Every row of the tables seeding writes, program ids left out (new on every run)."""
    def plain(value: object) -> object:
        if isinstance(value, str) and value.startswith("{"):
            data = json.loads(value)
            for program in data.get("programs", []):
                program.pop("id")
            return data
        return value

    with closing(sqlite3.connect(path)) as db:
        return {table: [[plain(v) for v in row] for row in
                        db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
                for table in ("account", "customer", "controller", "controller_config", "base",
                              "outbox", "sync_state")}


def _indexes(path: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE "
                          "type='index' ORDER BY name").fetchall()


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The children os.fork makes from now on (their pids)."""
    import os

    made, fork = [], os.fork

    def counted() -> int:
        pid = fork()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    return made


def _alone(test: str) -> bool:
    """A seed forks its drawing child only in a process running no other thread (a fork copies
    none of them, nor any lock one of them holds). The whole suite runs servers in threads, so
    a test of the fork runs again in a pytest of its own, which must pass. → whether this
    process may run it itself."""
    if threading.active_count() == 1:
        return True
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"{__file__}::{test}"], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).parents[2])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return False


def test_a_new_store_is_bulk_loaded_into_the_store_seed_store_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk load (its controllers drawn in a child process) writes what seeding a store
    that exists writes (drawn and written in one process)."""
    if not _alone("test_a_new_store_is_bulk_loaded_into_the_store_seed_store_writes"):
        return
    bulk, usual = tmp_path / "bulk" / "store.db", tmp_path / "usual.db"
    forks = _forks(monkeypatch)
    assert seed_new_store(bulk, 40, 4100, seed=3, today=DAY) == (40, 4100)  # 3 batches
    assert len(forks) == 1
    assert sorted(p.name for p in bulk.parent.iterdir()) == ["store.db"]  # nothing left over
    with Store(usual) as store:
        seed_store(store, 40, 4100, seed=3, today=DAY)
    assert len(forks) == 1
    assert _contents(bulk) == _contents(usual)
    assert _indexes(bulk) == _indexes(usual)  # dropped for the load, all built again
    with closing(sqlite3.connect(bulk)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    with Store(bulk) as a, Store(usual) as b:
        assert a.fleet_rows() == b.fleet_rows()
        assert a.usage() == b.usage()
        row = a.fleet_rows()[5]
        a.update_controller(row.controller_id, notes="Gate code 1234")  # a normal edit
        assert a.pending_count() == 1


def test_seed_new_store_leaves_an_existing_store_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store(path) as store:
        seed_store(store, 2, 3)
    before = _contents(path)
    with pytest.raises(FileExistsError):
        seed_new_store(path, 5, 10)
    assert _contents(path) == before


def test_a_store_the_app_makes_while_seeding_is_never_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app opened on the same data dir during a long seed makes its store and an edit:
    the seed must not move its file over them (nor leave the app's -wal beside another
    database): it stops and says so, and removes what it wrote."""
    from fieldtech.offline_store import seed

    path = tmp_path / "fieldtech.db"
    whole = seed.seed_store

    def with_the_app_meanwhile(*args: object, **kwargs: object) -> object:
        made = whole(*args, **kwargs)
        with Store(path) as app_store:  # the app, started meanwhile, and its first edit
            seed_store(app_store, 1, 1)
        return made

    monkeypatch.setattr(seed, "seed_store", with_the_app_meanwhile)
    with pytest.raises(FileExistsError):
        seed_new_store(path, 5, 10)
    assert _contents(path) and not path.with_name(path.name + SEEDING_SUFFIX).exists()
    with Store(path) as store:
        assert store.counts() == (1, 1)  # the app's, untouched


# The child seeds 3,000 controllers and kills itself (SIGKILL: nothing runs after it) once the
# first 2,000 are written, in the middle of the load (its own child drawing them meanwhile).
KILLED_HALF_WAY = """
import os, signal, sys
from fieldtech.offline_store import seed

whole, batches = seed.put_controller_rows, []

def half_way(*args, **kwargs):
    batches.append(1)
    if len(batches) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    whole(*args, **kwargs)

seed.put_controller_rows = half_way
seed.seed_new_store(sys.argv[1], 50, 3000)
"""


def test_a_seed_killed_half_way_leaves_no_store_that_looks_whole(tmp_path: Path) -> None:
    path = tmp_path / "data" / "fieldtech.db"
    child = subprocess.run([sys.executable, "-c", KILLED_HALF_WAY, str(path)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    leftover = path.with_name(path.name + SEEDING_SUFFIX)
    assert leftover.exists()  # what it wrote, which the next seed removes
    assert not path.exists()
    with Store(path) as store:  # the app, opened now, finds an empty store, not a half one
        assert store.counts() == (0, 0) and store.account() is None
    path.unlink()
    assert seed_new_store(path, 50, 3000) == (50, 3000)  # the next seed starts over
    assert not leftover.exists()
    with Store(path) as store:
        assert store.counts() == (50, 3000)


def test_a_seed_that_fails_removes_what_it_wrote(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldtech.offline_store import seed

    whole, batches = seed.put_controller_rows, []

    def failing(*args: object, **kwargs: object) -> None:
        batches.append(1)
        if len(batches) == 2:
            raise OSError(28, "No space left on device")
        whole(*args, **kwargs)

    monkeypatch.setattr(seed, "put_controller_rows", failing)
    path = tmp_path / "fieldtech.db"
    with pytest.raises(OSError, match="No space"):
        seed_new_store(path, 5, 3000)
    assert list(tmp_path.iterdir()) == []  # what it had written, removed


def test_a_drawing_process_that_fails_fails_the_seed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The child drawing the controllers stops after its first batch (an error there): the
    seed says so instead of linking a store that lacks the rest, and leaves nothing."""
    if not _alone("test_a_drawing_process_that_fails_fails_the_seed"):
        return
    from fieldtech.offline_store import seed

    forks, whole = _forks(monkeypatch), seed._controller_batches

    def first_only(controllers: object) -> object:
        batches = whole(controllers)
        yield next(batches)
        raise MemoryError("drawing")

    monkeypatch.setattr(seed, "_controller_batches", first_only)
    path = tmp_path / "fieldtech.db"
    with pytest.raises(RuntimeError, match="drawing process ended before its last batch"):
        seed_new_store(path, 5, 5000)
    assert len(forks) == 1
    assert list(tmp_path.iterdir()) == []


def test_lazy_and_whole_generation_draw_the_same_controllers() -> None:
    made, lazily = _generate(30, 500, 9, None, "Greenline Irrigation", DAY, lazy=True)
    whole = generate_account(30, 500, seed=9, today=DAY)
    assert made.customers == whole.customers
    for (drawn, *rest), (controller, *whole_rest) in zip(lazily, whole.controllers,
                                                         strict=True):
        assert rest == whole_rest
        assert drawn.record() == {k: v for k, v in controller.to_dict().items()
                                  if k != "config"}
