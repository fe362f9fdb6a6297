"""Incident rules as pure functions: severity, the targets table and the SLA clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fieldtech.domain.incidents import (
    DEFAULT_RESPONSE_TARGETS,
    Coverage,
    IncidentKind,
    ResponseTarget,
    Severity,
    SlaStage,
    covered_time,
    offline_after,
    response_due,
    response_targets,
    severity,
    sla_stage,
)
from fieldtech.domain.plans import Membership

NY = ZoneInfo("America/New_York")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_severity_rule() -> None:
    assert severity("offline", "priority") is Severity.CRITICAL
    assert severity("offline", "essentials") is Severity.CRITICAL
    assert severity("site_offline", "proactive") is Severity.CRITICAL
    assert severity("offline", "standard") is Severity.WARNING
    assert severity("offline", None) is Severity.WARNING
    assert severity("flow_high", "none") is Severity.CRITICAL  # a leak, whoever pays
    assert severity("master_valve_stuck", None) is Severity.CRITICAL
    assert severity("zone_no_current", "priority") is Severity.WARNING
    assert severity(IncidentKind.REBOOTED, "proactive") is Severity.INFO


def test_targets_table_defaults_and_an_account_override() -> None:
    assert DEFAULT_RESPONSE_TARGETS[Membership.ESSENTIALS].response == timedelta(minutes=30)
    assert DEFAULT_RESPONSE_TARGETS[Membership.PRIORITY].urgent_advanced == timedelta(hours=1)
    assert DEFAULT_RESPONSE_TARGETS[Membership.STANDARD].coverage is Coverage.BUSINESS_HOURS
    assert Membership.NONE not in DEFAULT_RESPONSE_TARGETS  # no membership, no clock
    mine = response_targets({"standard": {"response_minutes": 240, "coverage": "24/7"}})
    assert mine[Membership.STANDARD] == ResponseTarget(timedelta(hours=4), Coverage.ALWAYS)
    assert mine[Membership.PRIORITY] == DEFAULT_RESPONSE_TARGETS[Membership.PRIORITY]
    target = mine[Membership.PRIORITY]
    assert ResponseTarget.from_dict(target.to_dict()) == target


def test_round_the_clock_due_is_plain_addition_and_keeps_naive_utc() -> None:
    opened = datetime(2026, 12, 5, 23, 50)  # naive UTC, as the server stores it
    due = response_due(opened, timedelta(minutes=30), "24/7", "UTC")
    assert due == datetime(2026, 12, 6, 0, 20)


def test_business_hours_clock_stops_overnight_and_over_the_weekend() -> None:
    friday_4pm = local(2026, 12, 4, 16, 0)
    due = response_due(friday_4pm, timedelta(hours=2), Coverage.BUSINESS_HOURS, NY)
    assert due.astimezone(NY) == local(2026, 12, 7, 10, 0)  # 1 h Friday + 1 h Monday
    # opened at night: the clock starts at 9 the next morning
    due = response_due(local(2026, 12, 8, 22, 0), timedelta(minutes=30), "business_hours", NY)
    assert due.astimezone(NY) == local(2026, 12, 9, 9, 30)
    # Standard's default: one business day = the same time the next business day
    standard = DEFAULT_RESPONSE_TARGETS[Membership.STANDARD]
    due = response_due(local(2026, 12, 8, 11, 0), standard.response, standard.coverage, NY)
    assert due.astimezone(NY) == local(2026, 12, 9, 11, 0)


def test_business_hours_across_a_dst_change() -> None:
    # 2027-03-14: New York springs forward (EST -5 → EDT -4) on a Sunday.
    friday = local(2027, 3, 12, 16, 0)  # 21:00 UTC
    due = response_due(friday, timedelta(hours=2), "business_hours", NY)
    assert due.astimezone(NY) == local(2027, 3, 15, 10, 0)  # still 10 am local on Monday
    assert due == datetime(2027, 3, 15, 14, 0, tzinfo=UTC)  # now -4 h
    # falls back on 2026-11-01: 9 to 5 stays 8 covered hours either side
    monday = local(2026, 11, 2, 9, 0)
    assert covered_time(local(2026, 10, 30, 9, 0), monday, "business_hours", NY) == timedelta(
        hours=8
    )


def test_round_the_clock_across_dst_counts_real_time() -> None:
    # 01:30 local on the fall-back night, +30 min of real time
    opened = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert response_due(opened, timedelta(minutes=30), "24/7", NY) == datetime(
        2026, 11, 1, 6, 0, tzinfo=UTC
    )


def test_sla_stage_warns_at_half_and_three_quarters_then_breaches() -> None:
    opened = local(2026, 12, 8, 10, 0)
    target = timedelta(hours=2)
    at = [opened + timedelta(minutes=m) for m in (59, 60, 90, 119, 120)]
    stages = [sla_stage(opened, t, target, "business_hours", NY) for t in at]
    assert stages == [
        SlaStage.OK,
        SlaStage.WARN_50,
        SlaStage.WARN_75,
        SlaStage.WARN_75,
        SlaStage.BREACHED,
    ]
    # overnight time does not count: opened 4:30 pm, at 9:15 the next morning 45 min used
    late = local(2026, 12, 8, 16, 30)
    assert sla_stage(late, local(2026, 12, 9, 9, 15), timedelta(hours=1), "business_hours", NY) is (
        SlaStage.WARN_75
    )


def test_offline_after_three_missed_beats() -> None:
    assert offline_after() == timedelta(seconds=90)
    assert offline_after(10) == timedelta(seconds=30)
