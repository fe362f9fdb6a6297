"""The one-line bar at the top of every screen: account, plan usage, pending edits."""

from __future__ import annotations

from fieldtech.domain.plans import Usage
from fieldtech.widgets.text_line import TextBox


class TopBar(TextBox):
    def show(self, account_name: str, usage: Usage | None, pending: int, extra: str = "") -> None:
        parts = [f"[b]{account_name}[/b]"]
        if usage is not None:
            parts.append(
                f"{usage.tier.label} {usage.controllers_used}/{usage.controllers_limit} controllers"
            )
        parts.append(f"✎ {pending} pending" if pending else "nothing pending")
        if extra:
            parts.append(extra)
        self.update(" · ".join(parts))
