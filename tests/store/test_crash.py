"""kill -9 at any moment loses no committed edit and leaves no half edit."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from fieldtech.domain import Customer, new_id
from fieldtech.offline_store import Store
from tests.conftest import make_controller

# The child edits one controller in a loop: notes and zone 1's minutes both carry the edit's
# number, and it prints each outbox id once the edit's transaction has committed.
CHILD = """
import sys
from fieldtech.offline_store import Store
store = Store(sys.argv[1])
cid = sys.argv[2]
n = int(sys.argv[3])
while True:
    n += 1
    config = store.controller(cid).config
    config.zones[0].run_minutes = n % 700
    entry = store.update_controller(cid, notes=f"edit {n}", config=config)
    print(entry.id, n, flush=True)
"""


def test_kill_9_mid_edit_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    with Store(path) as s:
        k = Customer(id=new_id(), name="Crash Test")
        s.create_customer(k)
        c = make_controller(k)
        s.create_controller(c)
    rnd = random.Random(1)
    acknowledged: list[str] = []
    last = 0
    for _round in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), c.id, str(last)],
            stdout=subprocess.PIPE, text=True,
        )
        time.sleep(0.4 + rnd.random() * 0.6)  # a moment somewhere inside some transaction
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        lines = [line.split() for line in out.splitlines() if line.strip()]
        acknowledged += [line[0] for line in lines if len(line) == 2]

        with Store(path) as s:
            pending = [e for e in s.outbox() if e.op == "update"]
            record = s.controller(c.id)
        # One edit of notes and zones is two outbox rows (the record, and the configuration:
        # its own document in the cloud), written in the same transaction.
        updates = [e for e in pending if e.entity == "controller"]
        configs = [e for e in pending if e.entity == "config"]
        ids = {e.id for e in configs}
        missing = [a for a in acknowledged if a not in ids]
        assert not missing, f"round {_round}: committed edits lost: {missing[:3]}"
        # The record and its last outbox rows agree: no edit is half applied.
        assert updates, "the child made no edit at all"
        last = len(updates)
        assert len(configs) == last
        assert record.notes == f"edit {last}" == updates[-1].patch["notes"]
        assert record.config.zone(1).run_minutes == last % 700
        assert json.loads(json.dumps(configs[-1].patch["config"]))["zones"][0]["run_minutes"] \
            == last % 700
        # Edits are numbered without gaps: none was dropped between two committed ones.
        assert [e.patch["notes"] for e in updates] == [f"edit {i}" for i in range(1, last + 1)]
    assert len(acknowledged) > 20
