"""Campaigns: one bulk change on many controllers — dry run, optional canary, then the rest.

    rain delay · seasonal adjustment % · suspend watering until a date / resume ·
    apply a template · set a membership (on their customers) · add or remove tags

`dry_run` reads the marked controllers once and says what changes on how many, with each
controller's diff on demand and the plan's quota effect; nothing is written. `start` applies
the canary (the first N) or everything, as outbox edits carrying the campaign's id, in one
store transaction; `proceed` applies the rest once every canary record is confirmed, and
refuses when one failed. `status` says where each record is (queued → in the cloud →
confirmed by its device → failed). No textual: the TUI, the CLI and the bench call this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from fieldtech.domain import limits as L
from fieldtech.domain.config_diff import config_changes
from fieldtech.domain.errors import FieldError, FieldtechError, ValidationError
from fieldtech.domain.models import Controller, ControllerConfig, Customer
from fieldtech.domain.plans import Membership
from fieldtech.domain.text import normalize_tags
from fieldtech.domain.validation import tags_error, validate_config
from fieldtech.offline_store import campaigns as stored
from fieldtech.offline_store.campaigns import CampaignRow, ItemRow
from fieldtech.offline_store.store import Store


class Kind(StrEnum):
    RAIN_DELAY = "rain_delay"
    SEASONAL = "seasonal"
    SUSPEND = "suspend"
    RESUME = "resume"
    TEMPLATE = "template"
    MEMBERSHIP = "membership"
    TAGS = "tags"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {Kind.RAIN_DELAY: "Rain delay", Kind.SEASONAL: "Seasonal adjustment",
               Kind.SUSPEND: "Suspend watering", Kind.RESUME: "Resume watering",
               Kind.TEMPLATE: "Apply a template", Kind.MEMBERSHIP: "Set the membership",
               Kind.TAGS: "Add or remove tags"}


# How long a canary's devices have to confirm it once it is in the cloud (domain/limits.py).
CANARY_LIMIT = timedelta(minutes=L.CANARY_LIMIT_MINUTES)


def _duration(seconds: int) -> str:
    """"30 min", "2 h", "45 s"."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


class CanaryNotConfirmed(FieldtechError):
    """The canary's records are not all confirmed yet: the rest waits."""


class CanaryFailed(FieldtechError):
    """A canary record failed: the rollout stops (discard, or retry the failed)."""


@dataclass(frozen=True)
class BulkChange:
    """What a campaign sets. Only the fields of its kind matter."""

    kind: Kind
    hours: int = 0  # rain delay (0 clears it)
    percent: int = 100  # seasonal adjustment, every zone
    until: date | None = None  # suspend watering until (winterization)
    template: ControllerConfig | None = None
    template_name: str = ""
    membership: Membership = Membership.NONE
    add_tags: str = ""
    remove_tags: str = ""
    now: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)

    @property
    def entity(self) -> str:
        """What each record's edit changes: the configuration, the controller, the customer."""
        if self.kind is Kind.MEMBERSHIP:
            return "customer"
        return "controller" if self.kind is Kind.TAGS else "config"

    def errors(self) -> list[FieldError]:
        """What is wrong with the change itself (before any controller is read)."""
        e: list[FieldError] = []
        if self.kind is Kind.RAIN_DELAY and not 0 <= self.hours <= L.RAIN_DELAY_HOURS_MAX:
            e.append(FieldError("hours", f"Between 0 and {L.RAIN_DELAY_HOURS_MAX} hours."))
        if self.kind is Kind.SEASONAL and not (
                L.SEASONAL_ADJUST_MIN <= self.percent <= L.SEASONAL_ADJUST_MAX):
            e.append(FieldError("percent", f"Between {L.SEASONAL_ADJUST_MIN} and "
                                           f"{L.SEASONAL_ADJUST_MAX} %."))
        if self.kind is Kind.SUSPEND and (self.until is None or self.until <= self.now.date()):
            e.append(FieldError("until", "A date after today."))
        if self.kind is Kind.TEMPLATE:
            if self.template is None:
                e.append(FieldError("template", "Choose a template."))
            else:
                e += validate_config(self.template, len(self.template.zones))
        if self.kind is Kind.TAGS:
            for name in ("add_tags", "remove_tags"):
                if message := tags_error(normalize_tags(getattr(self, name))):
                    e.append(FieldError(name, message))
            if not (self.add_tags.strip() or self.remove_tags.strip()):
                e.append(FieldError("add_tags", "Name a tag to add or to remove."))
        return e

    def describe(self) -> str:
        if self.kind is Kind.RAIN_DELAY:
            return f"rain delay of {self.hours} h" if self.hours else "clear the rain delay"
        if self.kind is Kind.SEASONAL:
            return f"seasonal adjustment {self.percent} % on every zone"
        if self.kind is Kind.SUSPEND:
            return f"suspend watering until {self.until}"
        if self.kind is Kind.RESUME:
            return "resume watering (end zone suspensions)"
        if self.kind is Kind.TEMPLATE:
            return f"apply the template {self.template_name or '(unnamed)'}"
        if self.kind is Kind.MEMBERSHIP:
            return f"membership {self.membership.label} for their customers"
        words = []
        if self.add_tags.strip():
            words.append(f"add tags {normalize_tags(self.add_tags)}")
        if self.remove_tags.strip():
            words.append(f"remove tags {normalize_tags(self.remove_tags)}")
        return ", ".join(words)

    def params(self) -> dict[str, Any]:
        """What the campaign row keeps of the change (to say it again after a restart)."""
        out: dict[str, Any] = {"kind": self.kind.value, "now": self.now.isoformat()}
        if self.kind is Kind.RAIN_DELAY:
            out["hours"] = self.hours
        elif self.kind is Kind.SEASONAL:
            out["percent"] = self.percent
        elif self.kind is Kind.SUSPEND:
            out["until"] = self.until.isoformat() if self.until else None
        elif self.kind is Kind.TEMPLATE:
            out["template_name"] = self.template_name
            out["template"] = self.template.to_dict() if self.template else None
        elif self.kind is Kind.MEMBERSHIP:
            out["membership"] = self.membership.value
        elif self.kind is Kind.TAGS:
            out["add_tags"], out["remove_tags"] = self.add_tags, self.remove_tags
        return out

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> BulkChange:
        kind = Kind(params["kind"])
        template = params.get("template")
        until = params.get("until")
        return cls(kind, hours=int(params.get("hours", 0)),
                   percent=int(params.get("percent", 100)),
                   until=date.fromisoformat(until) if until else None,
                   template=ControllerConfig.from_dict(template) if template else None,
                   template_name=str(params.get("template_name", "")),
                   membership=Membership(params.get("membership", "none")),
                   add_tags=str(params.get("add_tags", "")),
                   remove_tags=str(params.get("remove_tags", "")),
                   now=datetime.fromisoformat(params["now"]))

    # -- what it does to one record ------------------------------------------------------------

    def fields_for(self, record: Any) -> dict[str, Any]:
        """The fields to set on `record` (a Controller, or a Customer for a membership)."""
        if isinstance(record, Customer):
            return {"membership": self.membership}
        c: Controller = record
        if self.kind is Kind.TAGS:
            tags = set(c.tags.split()) | set(normalize_tags(self.add_tags).split())
            tags -= set(normalize_tags(self.remove_tags).split())
            return {"tags": " ".join(sorted(tags))}
        return {"config": self.config_for(c)}

    def config_for(self, c: Controller) -> ControllerConfig:
        config = c.config
        if self.kind is Kind.RAIN_DELAY:
            until = (self.now + timedelta(hours=self.hours)).replace(microsecond=0)
            return replace(config, rain_delay_until=until if self.hours else None)
        if self.kind is Kind.SEASONAL:
            return replace(config, zones=[replace(z, seasonal_adjust_pct=self.percent)
                                          for z in config.zones])
        if self.kind in (Kind.SUSPEND, Kind.RESUME):
            until = self.until if self.kind is Kind.SUSPEND else None
            return replace(config, zones=[replace(z, suspended_until=until)
                                          for z in config.zones])
        assert self.template is not None
        source = replace(c, zone_count=len(self.template.zones), config=self.template)
        return c.copy_config_from(source).config

    def mismatch(self, c: Controller) -> str | None:
        """A template's zone count against this controller's, in words (None: they agree)."""
        if self.kind is not Kind.TEMPLATE or self.template is None:
            return None
        have, want = c.zone_count, len(self.template.zones)
        if have == want:
            return None
        if have < want:
            return (f"{have} zones, the template {want}: zones {have + 1}–{want} and their "
                    "minutes are left out")
        return (f"{have} zones, the template {want}: zones {want + 1}–{have} keep a default "
                "setup, in no program")


@dataclass(frozen=True)
class PlannedRecord:
    controller: Controller
    changes: bool
    note: str | None = None  # a zone-count mismatch, a customer shared with others


@dataclass
class DryRun:
    """What a campaign would do; nothing is written. `diff(i)` is one record's, on demand."""

    change: BulkChange
    records: list[PlannedRecord]
    customers: dict[str, Customer] = field(default_factory=dict)  # membership campaigns
    quota: str = ""
    missing: int = 0  # marked, but no longer in the store

    @property
    def changing(self) -> int:
        return sum(r.changes for r in self.records)

    @property
    def mismatched(self) -> int:
        return sum(r.note is not None for r in self.records)

    def targets(self) -> list[tuple[str, str]]:
        """(entity, record id) of what changes, in order; a customer once."""
        entity = self.change.entity
        if entity == "customer":
            seen: dict[str, None] = {}
            for r in self.records:
                if r.changes:
                    seen.setdefault(r.controller.customer_id)
            return [("customer", cid) for cid in seen]
        kept_entity = "config" if entity == "config" else "controller"
        return [(kept_entity, r.controller.id) for r in self.records if r.changes]

    def summary(self) -> str:
        n, total = self.changing, len(self.records)
        what = self.change.describe()
        if self.change.entity == "customer":
            head = (f"{what}: {len(self.targets())} customers change "
                    f"(of {len(self.customers)}, for {total} marked controllers)")
        else:
            head = f"{what}: {n} of {total} controllers change"
        parts = [head]
        if total - n and self.change.entity != "customer":
            parts.append(f"{total - n} already so")
        if self.mismatched:
            parts.append(f"{self.mismatched} with another zone count (d shows each)")
        if self.missing:
            parts.append(f"{self.missing} marked no longer exist")
        parts.append(self.quota)
        return "; ".join(p for p in parts if p) + "."

    def diff(self, index: int) -> list[str]:
        """What changes on one record, one line each."""
        planned = self.records[index]
        c = planned.controller
        lines = [planned.note] if planned.note else []
        if self.change.entity == "customer":
            customer = self.customers[c.customer_id]
            after = self.change.membership
            return lines + ([f"{customer.name}: membership {customer.membership.label} → "
                             f"{after.label}"] if customer.membership != after else [])
        if self.change.entity == "controller":
            after = self.change.fields_for(c)["tags"]
            return lines + ([f"tags: {c.tags or '—'} → {after or '—'}"]
                            if after != c.tags else [])
        return lines + config_changes(c.config.to_dict(),
                                      self.change.config_for(c).to_dict())


@dataclass(frozen=True)
class Status:
    """Where a campaign has got to: how many records in each state, read after a refresh."""

    campaign: CampaignRow
    counts: dict[str, int]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    late: int = 0  # canary records failed for want of their device's confirmation in time

    def canary_words(self, now: datetime | None = None) -> str:
        """Where the canary's time limit stands: "12:40 left for its devices to confirm",
        "its devices have 30 min once it is in the cloud", or why it stopped; "" without
        a canary."""
        row = self.campaign
        if not row.canary_limit_s:
            return ""
        if row.state == stored.STOPPED and self.late:
            return (f"{self.late} of the canary not confirmed by their devices within "
                    f"{_duration(row.canary_limit_s)}; the rest is not sent")
        if row.state != stored.CANARY:
            return ""
        deadline = row.canary_deadline
        if deadline is None:
            return (f"canary: its devices have {_duration(row.canary_limit_s)} to confirm "
                    "once it is in the cloud (sync)")
        left = max(0, int((deadline - (now or self.now)).total_seconds()))
        return f"canary: {left // 60}:{left % 60:02d} left for its devices to confirm"

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, state: str) -> int:
        return self.counts.get(state, 0)

    def words(self) -> str:
        c = self.counts
        order = [(stored.WAITING, "waiting for the canary"), (stored.QUEUED, "queued"),
                 (stored.IN_CLOUD, "in the cloud"), (stored.CONFIRMED, "confirmed"),
                 (stored.FAILED, "failed"), (stored.DISCARDED, "discarded"),
                 (stored.UNCHANGED, "unchanged")]
        return ", ".join(f"{c[s]} {w}" for s, w in order if c.get(s))


class CampaignService:
    """Campaigns on one store (thread-safe as the store is: call from workers).

    `canary_limit`: how long a canary's devices have to confirm it once it is all in the
    cloud; after that its unconfirmed records fail and the campaign stops (settings.toml
    `canary_limit_minutes`)."""

    def __init__(self, store: Store, canary_limit: timedelta = CANARY_LIMIT,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.canary_limit = canary_limit
        self.clock = clock

    def dry_run(self, change: BulkChange, controller_ids: Sequence[str]) -> DryRun:
        """Read the controllers once, say what would change; ValidationError if the change
        itself is not valid. Nothing is written."""
        if errors := change.errors():
            raise ValidationError(errors)
        controllers = self.store.controllers(controller_ids)
        records: list[PlannedRecord] = []
        customers: dict[str, Customer] = {}
        if change.entity == "customer":
            for cid in dict.fromkeys(c.customer_id for c in controllers):
                customers[cid] = self.store.customer(cid)
            for c in controllers:
                records.append(PlannedRecord(
                    c, customers[c.customer_id].membership != change.membership))
        elif change.entity == "controller":
            records = [PlannedRecord(c, change.fields_for(c)["tags"] != c.tags)
                       for c in controllers]
        else:
            for c in controllers:
                after = change.config_for(c)
                records.append(PlannedRecord(c, after != c.config, change.mismatch(c)))
        return DryRun(change, records, customers, self._quota(),
                      len(set(controller_ids)) - len(controllers))

    def _quota(self) -> str:
        usage = self.store.usage()
        if usage is None:
            return "the plan's count is unchanged (a campaign adds no controller)"
        return (f"plan {usage.controllers_used}/{usage.controllers_limit} controllers, "
                "unchanged (a campaign adds none)")

    def start(self, plan: DryRun, canary: int = 0,
              progress: Callable[[int, int], None] = lambda done, total: None) -> str:
        """Apply the dry run: the first `canary` records (then `proceed`), or all of them
        (canary 0), as outbox edits in one transaction; → the campaign's id."""
        targets = plan.targets()
        canary = max(0, min(canary, len(targets)))
        if canary == len(targets):
            canary = 0  # a canary of everything is no canary
        change = plan.change
        return stored.start(self.store, change.kind.value, change.params(), plan.summary(),
                            canary, targets, change.fields_for, progress,
                            int(self.canary_limit.total_seconds()))

    def proceed(self, campaign_id: str,
                progress: Callable[[int, int], None] = lambda done, total: None) -> int:
        """After the canary: apply the rest, if every canary record is confirmed; raises
        CanaryFailed (the rollout stops) or CanaryNotConfirmed (wait). → how many applied."""
        row = stored.campaign(self.store, campaign_id)
        if row.state not in (stored.CANARY, stored.STOPPED):
            return 0
        if row.state == stored.CANARY:
            self._refresh(row)
        canary = [i for i in stored.items(self.store, campaign_id) if i.position < row.canary]
        failed = [i for i in canary if i.state == stored.FAILED]
        if failed or row.state == stored.STOPPED:
            stored.set_state(self.store, campaign_id, stored.STOPPED)
            why = (f"{len(failed)} of the canary's {len(canary)} failed "
                   f"({failed[0].message or 'refused'})" if failed
                   else "This campaign was stopped")
            raise CanaryFailed(f"{why}: the rollout is stopped. Retry the failed ones (the "
                               "canary may pass then) or discard the campaign.")
        waiting = [i for i in canary if i.state not in (stored.CONFIRMED, stored.UNCHANGED)]
        if waiting:
            raise CanaryNotConfirmed(
                f"{len(waiting)} of the canary's {len(canary)} are not confirmed yet "
                "(sync, then wait for their devices' heartbeat).")
        change = BulkChange.from_params(row.params)
        return stored.apply_rest(self.store, campaign_id, change.fields_for, progress)

    def status(self, campaign_id: str) -> Status:
        counts = self._refresh(stored.campaign(self.store, campaign_id))
        late = sum(1 for i in stored.items(self.store, campaign_id)
                   if i.state == stored.FAILED and (i.message or "").startswith(stored.LATE))
        return Status(stored.campaign(self.store, campaign_id), counts, self.clock(), late)

    def _refresh(self, row: CampaignRow) -> dict[str, int]:
        """Each record's state; a canary's clock starts once it is all in the cloud, and when
        its time is up before its devices confirmed it, it fails and the campaign stops."""
        counts = stored.refresh(self.store, row.id)
        if row.state != stored.CANARY or not row.canary_limit_s:
            return counts
        canary = [i for i in stored.items(self.store, row.id) if i.position < row.canary]
        if row.canary_since is None:
            if not any(i.state in (stored.WAITING, stored.QUEUED) for i in canary):
                stored.start_canary_clock(self.store, row.id, self.clock())
            return counts
        deadline = row.canary_deadline
        if deadline is not None and self.clock() >= deadline and any(
                i.state == stored.IN_CLOUD for i in canary):
            stored.canary_late(self.store, row.id,
                               f"{stored.LATE} {_duration(row.canary_limit_s)}")
            counts = stored.refresh(self.store, row.id)
        return counts

    def check_canaries(self) -> list[Status]:
        """Every campaign whose canary waits, looked at now (the app does it every few
        seconds, whatever the screen): its clock starts once it is all in the cloud, and one
        whose time is up stops at the minute, not when someone next opens it. → the status
        of each one this look stopped."""
        stopped = []
        for row in stored.campaigns(self.store, stored.CANARY):
            self._refresh(row)
            if stored.campaign(self.store, row.id).state == stored.STOPPED:
                stopped.append(self.status(row.id))
        return stopped

    def items(self, campaign_id: str) -> list[ItemRow]:
        return stored.items(self.store, campaign_id)

    def campaigns(self) -> list[CampaignRow]:
        return stored.campaigns(self.store)

    def discard(self, campaign_id: str) -> str:
        """Discard what the campaign queued and was not sent yet; → what happened, in words."""
        discarded, kept = stored.discard(self.store, campaign_id)
        if kept:
            return (f"{discarded} edits discarded; {kept} were already sent to the cloud and "
                    "stay (change them back with another campaign).")
        return f"Campaign discarded: {discarded} edits, the records are as they were."

    def retry_failed(self, campaign_id: str) -> int:
        count = stored.retry_failed(self.store, campaign_id)
        row = stored.campaign(self.store, campaign_id)
        if row.state == stored.STOPPED and row.canary:  # the canary may pass now
            stored.set_state(self.store, campaign_id, stored.CANARY)
        return count
