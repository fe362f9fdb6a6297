"""A campaign's canary against simulated controllers paired with the reference cloud on
127.0.0.1: one device confirms the change, the other has lost its link and does not report in
time — the canary fails after its time limit, the campaign stops and the rest is never sent.

The limit is 30 minutes of the service's clock, which the test moves (nothing here waits for
it); the devices, the cloud and the sync are real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from device_cloud import LiveCloud, Staff, eventually
from test_cloud_loop import BEAT_S, loop_of, rpc

from fieldtech.cloud.api import CloudAPI
from fieldtech.cloud.sync import SyncEngine
from fieldtech.offline_store import campaigns as stored
from fieldtech.offline_store.store import Store
from fieldtech.services.campaigns import (
    BulkChange,
    CampaignService,
    CanaryFailed,
    CanaryNotConfirmed,
    Kind,
)
from fieldtech.simulator import Simulator


async def test_a_canary_a_device_does_not_confirm_in_time_stops_the_campaign(
        tmp_path: Path, staff: Staff, live_cloud: LiveCloud) -> None:
    async with Simulator(count=2, data_dir=tmp_path / "devices", advertise=False,
                         heartbeat_s=BEAT_S, reboot_pause_s=0.2) as sim:
        canary_ids = []
        for n, device in enumerate(sim.devices):
            controller = staff.controller(name=f"Canary {n}")
            code = staff.pairing_code(controller["id"])
            answer = await rpc(device, "cloud.pair", url=live_cloud.url, code=code)
            assert answer["result"]["paired"] is True, answer
            canary_ids.append(controller["id"])
        rest = staff.controller(name="The rest")["id"]
        confirming, silent = sim.devices
        await eventually(lambda: all((d.state.cloud or {}).get("applied_revision") == 1
                                     for d in sim.devices), "both devices on revision 1")
        loop_of(silent).go_offline()  # its link is down: it will not report

        store = Store(tmp_path / "mine.db")
        engine = SyncEngine(store, CloudAPI(live_cloud.url, staff.token), status_every_s=0)
        assert (await asyncio.to_thread(engine.sync)).error is None
        now = [datetime.now(UTC).replace(microsecond=0)]
        service = CampaignService(store, canary_limit=timedelta(minutes=30),
                                  clock=lambda: now[0])
        plan = service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24), [*canary_ids, rest])
        campaign_id = service.start(plan, canary=2)
        status = service.status(campaign_id)
        assert status.campaign.canary_deadline is None  # not in the cloud yet: no clock
        assert "have 30 min to confirm once it is in the cloud" in status.canary_words()

        assert (await asyncio.to_thread(engine.sync)).applied == 2  # the canary goes up
        status = service.status(campaign_id)
        assert status.count(stored.IN_CLOUD) == 2 and status.count(stored.WAITING) == 1
        assert status.campaign.canary_deadline == now[0] + timedelta(minutes=30)
        assert status.canary_words() == "canary: 30:00 left for its devices to confirm"
        await eventually(lambda: (confirming.state.cloud or {}).get("applied_revision") == 2,
                         "the rain delay applied on the first device")
        await eventually(lambda: staff.status(canary_ids[0])["applied_revision"] == 2,
                         "the first device's confirmation in the cloud")
        assert (await asyncio.to_thread(engine.sync)).error is None  # device states come down

        now[0] += timedelta(minutes=29)
        status = service.status(campaign_id)
        assert status.count(stored.CONFIRMED) == 1 and status.count(stored.IN_CLOUD) == 1
        assert status.canary_words() == "canary: 1:00 left for its devices to confirm"
        with pytest.raises(CanaryNotConfirmed):
            service.proceed(campaign_id)

        now[0] += timedelta(minutes=2)  # the time is up
        status = service.status(campaign_id)
        assert status.campaign.state == stored.STOPPED
        assert status.count(stored.FAILED) == 1 and status.late == 1
        assert status.canary_words() == ("1 of the canary not confirmed by their devices "
                                         "within 30 min; the rest is not sent")
        failed = [i for i in service.items(campaign_id) if i.state == stored.FAILED]
        assert [i.record_id for i in failed] == [canary_ids[1]]
        assert failed[0].message == "not confirmed by its device within 30 min"
        with pytest.raises(CanaryFailed, match="not confirmed by its device within 30 min"):
            service.proceed(campaign_id)
        assert rest not in {e.entity_id for e in store.outbox()}  # the rest never queued
        assert store.pending_count() == 0
        assert status.count(stored.WAITING) == 1

        # The device comes back and applies it; the campaign stays stopped until a retry,
        # which waits for the devices again (a new time limit), and then the rest may go.
        loop_of(silent).come_back()
        await eventually(lambda: staff.status(canary_ids[1])["applied_revision"] == 2,
                         "the second device's confirmation in the cloud")
        assert (await asyncio.to_thread(engine.sync)).error is None
        assert service.status(campaign_id).campaign.state == stored.STOPPED
        assert service.retry_failed(campaign_id) == 1
        status = service.status(campaign_id)
        assert status.campaign.state == stored.CANARY
        assert status.count(stored.CONFIRMED) == 2
        assert service.proceed(campaign_id) == 1
        assert (await asyncio.to_thread(engine.sync)).applied == 1
        store.close()
