"""What a screen is handed: the app-wide services, through one small typed interface.

Screens never import the app class. They reach the store, the edit service, settings, the
cloud link, the fleet as last read and the on-site options through `services_of(self)`, and
tell the app what happened with the messages in `messages.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual import events
from textual._compositor import LayoutUpdate
from textual.dom import DOMNode
from textual.geometry import Size
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer

from fieldtech.cloud.link import CloudLink
from fieldtech.offline_store.store import Store
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.services.fleet import Fleet
from fieldtech.services.settings import Settings
from fieldtech.services.site import SiteDevices

if TYPE_CHECKING:
    from fieldtech.domain.plans import Usage
    from fieldtech.offline_store.live import FleetHealth
    from fieldtech.screens.topbar import TopBar
    from fieldtech.services.campaigns import CampaignService
    from fieldtech.services.edits import EditService

# Account name, plan usage, pending edits, what needs a look (offline, incidents, conflicts).
HeaderWords = tuple[str, "Usage | None", int, "FleetHealth | None"]


@dataclass(frozen=True)
class OnSiteOptions:
    """Where mDNS listens (None: every interface; tests and the demo pin loopback), the demo's
    simulated controllers if any (to prefill forms), and a zone test's default length."""

    mdns_interfaces: list[str] | None = None
    simulator: Any = None
    zone_test_seconds: int = 30


class Header:
    """The top bar's words, said once: every screen's top bar subscribes to `changed`."""

    def __init__(self, owner: DOMNode, link: CloudLink):
        self.changed: Signal[None] = Signal(owner, "header-changed")
        self.link = link
        self.words: HeaderWords = ("", None, 0, None)

    def set(self, words: HeaderWords) -> None:
        self.words = words
        self.repaint()

    def repaint(self) -> None:
        """The words or the cloud's state may have changed: top bars look again."""
        self.changed.publish(None)

    def show_on(self, bar: TopBar) -> None:
        name, usage, pending, health = self.words
        bar.show(name, usage, pending, link=self.link.status(), health=health)


class Services:
    """The app-wide services, built once by the app and shared by every screen."""

    def __init__(self, owner: DOMNode, store: Store, settings: Settings, data_dir: Path,
                 link: CloudLink, onsite: OnSiteOptions):
        self.store = store
        self.settings = settings
        self.data_dir = data_dir
        self.link = link
        self.fleet = Fleet()
        self.onsite = onsite
        self.site = SiteDevices()  # found on site this session, kept across screens
        self.header = Header(owner, link)
        # A wait for a thread working in bulk, to call between two chunks: it returns once no
        # key is being answered (the app's; none in a bare test).
        self.key_waits: Callable[[], Callable[[], None]] = lambda: _no_wait
        self._building = threading.Lock()
        self._edits: EditService | None = None
        self._campaigns: CampaignService | None = None

    # Built on first use: their modules (and the config diff, the campaigns' store) are not
    # needed for the first paint (tests/tui/test_start_imports.py). Threads ask for them too
    # (a sync's settling, the canaries' check): one is built, under a lock.
    @property
    def edits(self) -> EditService:
        if self._edits is None:
            from fieldtech.services.edits import EditService

            with self._building:
                if self._edits is None:
                    self._edits = EditService(self.store)
        return self._edits

    @property
    def campaigns(self) -> CampaignService:
        if self._campaigns is None:
            from fieldtech.services.campaigns import CampaignService

            with self._building:
                if self._campaigns is None:
                    self._campaigns = CampaignService(self.store, canary_limit=timedelta(
                        minutes=self.settings.canary_limit_minutes))
        return self._campaigns


def _no_wait() -> None:
    pass


class ServiceHost(Protocol):
    """An app that hands its screens services (FieldtechApp is one)."""

    services: Services


def services_of(node: DOMNode) -> Services:
    """The services of the app `node` runs in."""
    return cast(ServiceHost, node.app).services


WARM_AFTER_S = 0.2  # a covered screen renders its changes this long after them


class FieldtechScreen(KeymapFirst, PromptFrames, Screen):
    """A screen of the app: its services are one attribute away."""

    @property
    def services(self) -> Services:
        return services_of(self)

    def _compositor_refresh(self) -> None:
        # Textual counts the screen just under the top one as visible even when the top one is
        # opaque, and turns any change painted here (a key bar's page, a top bar's clock) into
        # a repaint of the WHOLE top screen: ~7 KB over SSH for nothing to see (issue 10's idle
        # minute on triage). Drop it while an opaque screen covers this one; coming back on top
        # repaints the whole screen anyway (Screen._on_screen_resume), with what changed.
        if self._covered():
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            self._kept_frame = None  # changed since: rendered again a moment later
            self._warm_soon()
            return
        super()._compositor_refresh()

    _warm_timer: Timer | None = None
    _kept_frame: tuple[Size, LayoutUpdate] | None = None

    def _warm_soon(self) -> None:
        if self._warm_timer is None:
            self._warm_timer = self.set_timer(WARM_AFTER_S, self._warm, name="warm")

    def _warm(self) -> None:
        """Render this covered screen, changes and all, and keep the frame: coming back (Esc)
        writes it at once (issue 18), before Textual has composed its own frame, which then
        differs from it in nothing (or writes what changed since). Off the key's path: a
        moment after the change, or after this screen was covered."""
        self._warm_timer = None
        if self._covered() and not self._layout_required:
            frame = self._compositor.render_update(full=True)
            if isinstance(frame, LayoutUpdate):
                self._kept_frame = self.app.size, frame

    # Textual calls each class's own `_on_…` handler, Screen's after these: no super() here.
    def _on_screen_suspend(self) -> None:
        self._kept_frame = None
        self._warm_soon()

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        kept, self._kept_frame = self._kept_frame, None
        changed = (self._layout_required or self._scroll_required or self._repaint_required
                   or self._dirty_widgets)  # while too deep under others to be rendered
        if kept is not None and not changed and kept[0] == self.app.size and (
                self.app.screen is self):
            self.app._display(self, kept[1])

    def _covered(self) -> bool:
        """Is an opaque screen above this one in the stack?"""
        stack = self.app.screen_stack
        if self not in stack:
            return False
        above = stack[stack.index(self) + 1:]
        return any(screen.styles.background.a == 1 for screen in above)
