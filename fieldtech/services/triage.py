"""The triage list as data, for every front end (the TUI's `!`, `fieldtech triage`):
the countdown words, the whole incident in words, and the filter.
"""

from __future__ import annotations

from datetime import datetime

from fieldtech.offline_store.store import Store
from fieldtech.offline_store.triage_rows import TriageRow, triage_rows
from fieldtech.services.queries import Query


def span(seconds: float) -> str:
    """A duration in at most five cells: 45s, 12m, 3h05, 2d4h."""
    s = int(abs(seconds))
    if s < 60:
        text = f"{s}s"
    elif s < 3600:
        text = f"{s // 60}m"
    elif s < 86400:
        text = f"{s // 3600}h{(s % 3600) // 60:02d}"
    else:
        text = f"{s // 86400}d{(s % 86400) // 3600}h"
    return ("-" if seconds < 0 else "") + text


def age_text(row: TriageRow, now: datetime) -> str:
    """How long it has been open, coarse enough to change at most once a minute in the first
    hour and once an hour after: the list is read at a glance, and over SSH each change of
    every line on screen is bytes (the exact time is in the line under the cursor)."""
    if row.opened_at is None:
        return ""
    s = max(0, int((now - row.opened_at).total_seconds()))
    if s < 60:
        return "<1m"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h" if s < 86400 else f"{s // 86400}d"


def open_incidents(store: Store, now: datetime) -> list[TriageRow]:
    """Open incidents, the one whose response is due first on top (then severity, age)."""
    rows = triage_rows(store)
    rows.sort(key=lambda r: r.sort_key(now))
    return rows


def due_text(row: TriageRow, now: datetime) -> str:
    """Time left to respond (negative once breached); "ack" once someone responded."""
    if row.state == "acknowledged":
        return "ack"
    if row.state == "snoozed":
        return "zzz"
    if row.due_at is None:
        return "—"
    left = (row.due_at - now).total_seconds()
    return span(left) if abs(left) >= 60 else ("-0m" if left < 0 else "<1m")


def passes(q: Query, row: TriageRow, now: datetime, me: str) -> bool:
    if q.words:
        hay = f"{row.customer_name} {row.controller_name} {row.what} {row.detail}".casefold()
        if not all(w in hay for w in q.words):
            return False
    if "breaching" in q.flags and not row.breaching(now):
        return False
    if "mine" in q.flags and (row.assigned_to or "").casefold() != me:
        return False
    return (q.matches("state", row.state) and q.matches("sev", row.severity)
            and q.matches("membership", row.membership)
            and q.matches("assignee", row.assigned_to or "none")
            and q.matches("what", f"{row.kind} {row.what}"))


def describe(row: TriageRow, now: datetime) -> str:
    """The whole incident in words, for the line under the list (never cut to nothing)."""
    parts = [f"{row.customer_name} — {row.controller_name}: {row.what}"]
    if row.detail and row.detail != row.what:
        parts.append(row.detail)
    if row.opened_at:
        parts.append(f"opened {span((now - row.opened_at).total_seconds())} ago")
    if row.count > 1:
        parts.append(f"seen {row.count}×")
    if row.state == "open" and row.due_at:
        left = (row.due_at - now).total_seconds()
        parts.append(f"response due in {span(left)}" if left >= 0
                     else f"response {span(-left)} overdue")
    if row.acknowledged_by:
        parts.append(f"acknowledged by {row.acknowledged_by}")
    if row.assigned_to:
        parts.append(f"assigned to {row.assigned_to}")
    if row.snoozed_until:
        parts.append(f"snoozed until {row.snoozed_until:%H:%M}")
    return " · ".join(parts)
