"""Campaigns against the reference cloud on 127.0.0.1: applied, synced, confirmed by the
devices' heartbeats; a canary the cloud refuses stops the rollout."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from fieldtech.cloud.sync import SyncEngine
from fieldtech.domain.plans import Tier
from fieldtech.offline_store import campaigns as stored
from fieldtech.offline_store.store import Store
from fieldtech.server.security import new_device_token, token_hash
from fieldtech.server.tables import DeviceTokenRow
from fieldtech.services.campaigns import BulkChange, CampaignService, CanaryFailed, Kind


def _give_devices_tokens(cloud, account_id: str, controller_ids: list[str]) -> dict[str, str]:
    """What pairing would have given each device: a token (written as pairing writes it)."""
    tokens = {cid: new_device_token() for cid in controller_ids}
    now = datetime.now(UTC).replace(tzinfo=None)
    with cloud.db.write(account_id) as s:
        s.add_all([DeviceTokenRow(token_hash=token_hash(t), controller_id=cid, created_at=now)
                   for cid, t in tokens.items()])
    return tokens


def _devices_apply_what_the_cloud_says(url: str, tokens: dict[str, str]) -> None:
    """Each device heartbeats, learns the configuration's revision, applies it, says so."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for token in tokens.values():
            auth = {"Authorization": f"Bearer {token}"}
            r = http.post("/v1/device/heartbeat", json={}, headers=auth)
            r.raise_for_status()
            revision = r.json()["config_revision"]
            http.post("/v1/device/heartbeat", json={"applied_revision": revision},
                      headers=auth).raise_for_status()


def test_a_campaign_over_500_controllers_reaches_the_cloud_and_is_confirmed(
        cloud, seeded, tmp_path: Path) -> None:
    account = seeded(90, 700, Tier.PLATINUM)
    store = Store(tmp_path / "mine.db")
    engine = SyncEngine(store, account.api())
    assert engine.sync().error is None
    linked = [r.controller_id for r in store.fleet_rows() if r.controller_id and r.serial]
    marked = linked[:500]
    assert len(marked) == 500

    service = CampaignService(store)
    now = datetime.now(UTC)
    plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24, now=now), marked)
    assert plan.changing == 500
    campaign_id = service.start(plan)
    assert service.status(campaign_id).count(stored.QUEUED) == 500

    report = engine.sync()
    assert report.error is None and report.applied == 500 and store.pending_count() == 0
    status = service.status(campaign_id)
    assert status.count(stored.IN_CLOUD) == 500, status.counts
    until = (now + timedelta(hours=24)).replace(microsecond=0)
    for cid in (marked[0], marked[-1]):
        cloud_until = account.get(f"/v1/controllers/{cid}/config")["config"]["rain_delay_until"]
        assert datetime.fromisoformat(cloud_until) == until

    _devices_apply_what_the_cloud_says(account.url,
                                       _give_devices_tokens(cloud, account.account_id, marked))
    assert engine.sync().error is None  # pulls the device states
    status = service.status(campaign_id)
    assert status.count(stored.CONFIRMED) == 500, status.counts
    # after a restart: the same words from the store alone
    store.close()
    again = CampaignService(Store(tmp_path / "mine.db"))
    assert again.status(campaign_id).count(stored.CONFIRMED) == 500
    assert "500 confirmed" in again.status(campaign_id).words()


def test_a_canary_the_cloud_refuses_stops_the_rollout(seeded, tmp_path: Path) -> None:
    account = seeded(6, 20, Tier.STARTER)
    mine, theirs = Store(tmp_path / "mine.db"), Store(tmp_path / "theirs.db")
    engine = SyncEngine(mine, account.api())
    engine.sync()
    SyncEngine(theirs, account.api()).sync()
    marked = [r.controller_id for r in mine.fleet_rows() if r.controller_id][:10]

    # A colleague sets another rain delay on the first canary controller meanwhile.
    first = theirs.controller(marked[0])
    later = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    theirs.update_controller(first.id, config=replace(first.config, rain_delay_until=later))
    assert SyncEngine(theirs, account.api()).sync().error is None

    service = CampaignService(mine)
    plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=48), marked)
    campaign_id = service.start(plan, canary=2)
    report = engine.sync()  # the first canary edit meets the colleague's: a conflict
    assert report.conflicts == 1

    with pytest.raises(CanaryFailed):
        service.proceed(campaign_id)
    status = service.status(campaign_id)
    assert status.campaign.state == stored.STOPPED
    assert status.count(stored.FAILED) == 1 and status.count(stored.WAITING) == 8
    assert all(e.entity_id in marked[:2] for e in mine.outbox())  # the rest never queued
    with pytest.raises(CanaryFailed):  # and it stays stopped
        service.proceed(campaign_id)
    assert len(mine.outbox()) == 1
