"""kill -9 half-way through applying a campaign: every record changed, or none."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from fieldtech.offline_store import Store
from fieldtech.offline_store import campaigns as stored
from fieldtech.offline_store.seed import seed_store
from tests.conftest import SEED_DAY

# The child applies a rain delay to every controller; half-way through (inside the one
# transaction) it says so and sleeps, to be killed there.
CHILD = """
import sys, time
from fieldtech.offline_store import Store
from fieldtech.services.campaigns import BulkChange, CampaignService, Kind
store = Store(sys.argv[1])
ids = [r.controller_id for r in store.fleet_rows() if r.controller_id]
service = CampaignService(store)
plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24), ids)

def progress(done, total):
    if done >= total // 2:
        print("half", done, total, flush=True)
        time.sleep(60)

service.start(plan, progress=progress)
print("done", flush=True)
"""


def test_kill_9_half_way_through_applying_leaves_the_records_as_they_were(
        tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    with Store(path) as s:
        seed_store(s, 40, 400, today=SEED_DAY)
        before = {c.id: c.to_dict() for c in s.controllers(
            [r.controller_id for r in s.fleet_rows() if r.controller_id])}
        pending = s.pending_count()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("half"), line  # killed inside the transaction, not before it
    child.send_signal(signal.SIGKILL)
    child.communicate()

    with Store(path) as s:
        after = {c.id: c.to_dict() for c in s.controllers(list(before))}
        assert after == before
        assert s.pending_count() == pending
        assert [e for e in s.outbox() if e.entity == "config"] == []
        assert stored.campaigns(s) == []  # written in the same transaction: gone too
