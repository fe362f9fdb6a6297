"""Campaigns on a real SQLite store: dry run, apply, canary gate, discard (no cloud here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from fieldtech.domain.errors import ValidationError
from fieldtech.domain.models import ControllerConfig, Zone
from fieldtech.domain.plans import Membership
from fieldtech.offline_store import Store
from fieldtech.offline_store import campaigns as stored
from fieldtech.offline_store.seed import seed_store
from fieldtech.services.campaigns import (
    BulkChange,
    CampaignService,
    CanaryNotConfirmed,
    Kind,
)
from tests.conftest import SEED_DAY

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.db")
    seed_store(s, 20, 60, today=SEED_DAY)
    yield s
    s.close()


def ids(store: Store, n: int | None = None) -> list[str]:
    found = [r.controller_id for r in store.fleet_rows() if r.controller_id]
    return found[:n] if n else found


def snapshot(store: Store) -> dict[str, dict]:
    return {c.id: c.to_dict() for c in store.controllers(ids(store))}


def test_a_dry_run_says_what_changes_and_writes_nothing(store: Store) -> None:
    marked = ids(store, 30)
    service = CampaignService(store)
    already = store.controllers(marked[:1])[0]
    until = (NOW + timedelta(hours=48)).replace(microsecond=0)
    store.update_controller(already.id, config=replace(already.config, rain_delay_until=until))
    before, pending = snapshot(store), store.pending_count()

    plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=48, now=NOW), marked)
    assert plan.changing == 29 and len(plan.records) == 30
    assert "29 of 30 controllers change" in plan.summary()
    assert "1 already so" in plan.summary() and "unchanged" in plan.summary()  # the quota
    assert any("rain delay" in line.casefold() for line in plan.diff(1))
    assert plan.diff(0) == []
    assert snapshot(store) == before and store.pending_count() == pending


def test_a_bad_change_is_refused_before_anything_is_read_or_written(store: Store) -> None:
    service = CampaignService(store)
    for change in (BulkChange(Kind.RAIN_DELAY, hours=10_000), BulkChange(Kind.SEASONAL,
                   percent=900), BulkChange(Kind.SUSPEND, until=date(2000, 1, 1)),
                   BulkChange(Kind.TAGS, add_tags="Not;a tag")):
        with pytest.raises(ValidationError):
            service.dry_run(change, ids(store))
    assert store.pending_count() == 0 and not service.campaigns()


def test_applied_as_one_campaign_of_outbox_edits_then_discarded_as_one(store: Store) -> None:
    marked = ids(store, 40)
    before = snapshot(store)
    service = CampaignService(store)
    plan = service.dry_run(BulkChange(Kind.SEASONAL, percent=70, now=NOW), marked)
    seen: list[tuple[int, int]] = []
    campaign_id = service.start(plan, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (plan.changing, plan.changing)
    entries = store.outbox()
    assert len(entries) == plan.changing and all(e.entity == "config" for e in entries)
    assert stored.pending_campaigns(store) == {campaign_id: plan.changing}
    assert all(z.seasonal_adjust_pct == 70
               for c in store.controllers(marked) for z in c.config.zones)
    status = service.status(campaign_id)
    assert status.count(stored.QUEUED) == plan.changing

    words = service.discard(campaign_id)
    assert "as they were" in words
    assert store.outbox() == [] and snapshot(store) == before
    assert service.status(campaign_id).count(stored.DISCARDED) == plan.changing


def test_a_template_with_another_zone_count_is_applied_and_the_mismatch_shown(
        store: Store) -> None:
    template = ControllerConfig(zones=[Zone(number=n, name=f"Bed {n}", run_minutes=7)
                                       for n in range(1, 7)])
    marked = ids(store, 20)
    service = CampaignService(store)
    plan = service.dry_run(BulkChange(Kind.TEMPLATE, template=template,
                                      template_name="beds"), marked)
    counts = {c.id: c.zone_count for c in store.controllers(marked)}
    other = [n for n, r in enumerate(plan.records) if counts[r.controller.id] != 6]
    assert other and plan.mismatched == len(other)
    assert "another zone count" in plan.summary()
    assert "zones" in plan.diff(other[0])[0]
    service.start(plan)
    for c in store.controllers(marked):
        assert c.zone_count == counts[c.id] and len(c.config.zones) == c.zone_count
        assert c.config.zones[0].name == "Bed 1"


def test_a_membership_campaign_changes_each_customer_once(store: Store) -> None:
    marked = ids(store)
    service = CampaignService(store)
    plan = service.dry_run(BulkChange(Kind.MEMBERSHIP, membership=Membership.PRIORITY),
                           marked)
    targets = plan.targets()
    assert len(targets) == len({t for t in targets}) and all(e == "customer"
                                                             for e, _ in targets)
    service.start(plan)
    assert {store.customer(k).membership for _, k in targets} == {Membership.PRIORITY}
    assert len(store.outbox()) == len(targets)


def test_tags_campaign_adds_and_removes(store: Store) -> None:
    marked = ids(store, 5)
    service = CampaignService(store)
    service.start(service.dry_run(BulkChange(Kind.TAGS, add_tags="Spring, hoa"), marked))
    assert {c.tags for c in store.controllers(marked)} == {"hoa spring"}
    service.start(service.dry_run(BulkChange(Kind.TAGS, remove_tags="hoa"), marked))
    assert {c.tags for c in store.controllers(marked)} == {"spring"}


def test_the_rest_waits_until_the_canary_is_confirmed(store: Store) -> None:
    marked = ids(store, 30)
    service = CampaignService(store)
    plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24, now=NOW), marked)
    campaign_id = service.start(plan, canary=3)
    assert len(store.outbox()) == 3
    status = service.status(campaign_id)
    assert status.count(stored.WAITING) == plan.changing - 3 and status.count(stored.QUEUED) == 3
    with pytest.raises(CanaryNotConfirmed):
        service.proceed(campaign_id)
    assert len(store.outbox()) == 3  # nothing more was applied


def test_a_campaign_edited_again_since_is_not_discarded_under_the_later_edit(
        store: Store) -> None:
    from fieldtech.domain.errors import StillNeeded

    marked = ids(store, 5)
    service = CampaignService(store)
    campaign_id = service.start(service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24, now=NOW),
                                                marked))
    later = store.controllers(marked[:1])[0]
    store.update_controller(later.id, config=replace(
        later.config, zones=[replace(z, run_minutes=3) for z in later.config.zones]))
    with pytest.raises(StillNeeded, match="edited again"):
        service.discard(campaign_id)
    assert len(store.outbox()) == 6  # nothing was discarded
    hand = next(e for e in store.outbox() if e.campaign_id is None)
    store.discard(hand.id)
    assert "as they were" in service.discard(campaign_id)
    assert store.outbox() == []


def test_the_pending_screen_says_the_campaign_and_a_later_edit_only_its_own_change(
        store: Store) -> None:
    from fieldtech.screens.pending import read_pending

    marked = ids(store, 4)
    service = CampaignService(store)
    service.start(service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24, now=NOW), marked))
    later = store.controllers(marked[:1])[0]
    store.update_controller(later.id, config=replace(
        later.config, zones=[replace(z, run_minutes=3) if z.number == 1 else z
                             for z in later.config.zones]))
    pending = read_pending(store)
    assert [p.change for p in pending[:4]] == ["campaign: rain delay of 24 h"] * 4
    assert "rain delay" not in pending[4].change and "zone 1" in pending[4].change.casefold()
