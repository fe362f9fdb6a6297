"""The one-line bar at the top of every screen: account, plan usage, pending edits, the cloud.

The cloud's state and the age of the last sync sit on the right; the rest is shortened, then
the account name cut, until the line fits the terminal (80 columns included).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from fieldtech.cloud.link import LinkState, LinkStatus
from fieldtech.domain.plans import Usage
from fieldtech.offline_store.live import FleetHealth
from fieldtech.screens.services import Header, Services
from fieldtech.widgets.text_line import TextBox

LINK_STYLE = {LinkState.LOCAL: "dim", LinkState.ONLINE: "green", LinkState.SYNCING: "cyan",
              LinkState.OFFLINE: "yellow", LinkState.SIGN_IN: "bold red"}


NAME_MIN = 20  # cells of the account name kept before a shorter wording is tried
LEVELS = 5  # wordings, longest first: each level shortens one more part


def header_parts(account_name: str, usage: Usage | None, pending: int,
                 link: LinkStatus | None, width: int, extra: str = "",
                 health: FleetHealth | None = None) -> tuple[str, str]:
    """(left, right) texts of the bar for `width` cells: the longest wording that fits."""
    for level in range(LEVELS):
        left, right = _left(usage, pending, extra, level, health), _right(link, level)
        room = width - cell_len(right) - cell_len(left) - 3 - 3  # a gap, and " · "
        if cell_len(account_name) <= room or room >= NAME_MIN or level == LEVELS - 1:
            name = account_name if cell_len(account_name) <= room else (
                account_name[:max(1, room - 1)] + "…")
            return (f"{name} · {left}" if left else name), right
    raise AssertionError("unreachable")


def _left(usage: Usage | None, pending: int, extra: str, level: int,
          health: FleetHealth | None = None) -> str:
    parts = []
    if usage is not None:
        limit = f"{usage.controllers_used}/{usage.controllers_limit}"
        parts.append(f"{usage.tier.label} {limit}" + (" controllers" if level == 0 else ""))
    if pending:
        parts.append(f"✎ {pending}" + (" pending" if level < 4 else ""))
    elif level < 3 or health is None:  # tight: what needs a look says more than "0 pending"
        parts.append("nothing pending" if level < 2 else "0 pending")
    if health is not None:
        parts += _health(health, level)
    if extra:
        parts.append(extra)
    return " · ".join(parts)


def _health(h: FleetHealth, level: int) -> list[str]:
    """What needs a look, shortest last: "⚠ 1 conflict · 15 offline · 9 incidents · 2
    breaching" down to "⚠1 ○15 !9 ⏰2" (the help screen says what each mark means)."""
    words = [("⚠", h.conflicts, "conflict", "conflicts"), ("○", h.offline, "offline", "off"),
             ("!", h.incidents, "incident", "inc"), ("⏰", h.breaching, "breaching", "late")]
    out = []
    for mark, n, word, short in words:
        if not n:
            continue
        if level < 3:
            plural = "s" if n > 1 and word in ("conflict", "incident") else ""
            out.append(f"{mark} {n} {word}{plural}" if mark == "⚠" else f"{n} {word}{plural}")
        elif level < 4:
            out.append(f"{mark}{n} {short}" if mark == "⚠" else f"{n} {short}")
        else:
            out.append(f"{mark}{n}")
    return out if level < 4 else [" ".join(out)] if out else []


def _right(link: LinkStatus | None, level: int) -> str:
    if link is None:
        return ""
    age = link.age_text(short=level >= 3)
    state = link.state_text(short=level >= 2)  # a long sync says how far it came
    return f"{state} · {age}" if age else state


class TopBar(TextBox):
    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self._shown: tuple | None = None  # what show() was given
        self._painted: tuple[str, str] | None = None  # (left, right) as last rendered
        self.note = ""  # this screen's own words after the app's, e.g. "12 marked"

    def on_mount(self) -> None:
        # Every top bar says the same words: they come from the app's one Header, when it
        # changes. (Outside fieldtech's app, e.g. in a test, it shows what `show` is given.)
        if (header := self._header()) is not None:
            header.changed.subscribe(self, lambda _: header.show_on(self))
            header.show_on(self)

    def on_show(self) -> None:
        if (header := self._header()) is not None:  # its screen was away: words may be new
            header.show_on(self)

    def _header(self) -> Header | None:
        services: Services | None = getattr(self.app, "services", None)
        return services.header if services is not None else None

    def show(self, account_name: str, usage: Usage | None, pending: int, extra: str = "",
             link: LinkStatus | None = None, health: FleetHealth | None = None) -> None:
        self._shown = (account_name, usage, pending, extra, link, health)
        # Shown again every 30 s for the age of the last sync: repaint only when the words
        # change (each repaint is bytes over SSH, and may land in a keystroke's frame).
        if self._words() != self._painted:
            self.refresh()

    def set_note(self, note: str) -> None:
        """This bar's own words (the screen's marks), after the app's; repaints if new."""
        self.note = note
        if self._words() != self._painted:
            self.refresh()

    def _words(self) -> tuple[str, str] | None:
        if self._shown is None:
            return None
        account_name, usage, pending, extra, link, health = self._shown
        extra = " · ".join(p for p in (self.note, extra) if p)
        return header_parts(account_name, usage, pending, link,
                            self.content_size.width or 78, extra, health)

    def render(self) -> Text:
        words = self._painted = self._words()
        if words is None or self._shown is None:
            return Text("")
        link = self._shown[4]
        left, right = words
        width = self.content_size.width or 78
        name, sep, rest = left.partition(" · ")
        line = Text(name, style="bold") + Text(sep + rest)
        if right:
            gap = width - cell_len(left) - cell_len(right)
            # Tight, a dot keeps "0 pending" and "online" from reading as one phrase.
            line.append(" " * gap if gap > 3 else " · ", style="dim")
            state, _, age = right.partition(" · ")
            line.append(state, style=LINK_STYLE[link.state] if link else "")
            if age:
                line.append(" · " + age, style="dim")
        return line
