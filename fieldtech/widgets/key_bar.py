"""The footer's keys as two lines of text, repainted only when they change.

Textual's `Footer` recomposes a widget per key each time the bindings change (every focus
change, often two or three times in a row): a layout pass and a repaint each, after the frame a
switch already painted. This draws the same keys as text, and repaints only if they differ.

The first line holds the screen's main keys; the second every other key it has (those with an
id: remappable, so worth knowing), in pages shown in turn, once, when they do not fit at 80
columns — so every key is readable without `?`, and an idle screen writes nothing.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region
from textual.keys import key_to_character
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

Key = tuple[str, str, bool]  # (key as shown, description, enabled)
PAGE_EVERY_S = 6  # long enough to read a line of keys


# Printable keys whose names Textual cannot turn back into their characters (key_to_character
# gives None for these, and Textual then keeps their bindings beside a focused Input).
_CHARACTERS = {"plus": "+", "minus": "-", "slash": "/", "at": "@", "backslash": "\\",
               "underscore": "_"}


def types_key(focused: Widget, key: str) -> bool:
    """Whether the focused widget (a search or filter box) takes `key` as text."""
    character = _CHARACTERS.get(key) or key_to_character(key)
    return character is not None and focused.check_consume_key(key, character)


def _typed_into(focused: Widget, binding: Binding) -> bool:
    """Whether the focused widget takes `binding`'s key as text where Textual does not see it
    (a key named `slash`…), so the binding does nothing there: the switcher's box showed the
    fleet's "/ Filter", and `/` typed a slash. A priority binding comes before the box."""
    return (binding.key in _CHARACTERS and not binding.priority
            and types_key(focused, binding.key))


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom; height: 2; color: $footer-foreground; background: $footer-background;
        text-wrap: nowrap; text-overflow: clip;
        & > .key-bar--key {
            color: $footer-key-foreground; background: $footer-key-background; text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground; background: $footer-description-background;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}

    keys: reactive[tuple[Key, ...]] = reactive((), layout=False)
    more: reactive[tuple[Key, ...]] = reactive((), layout=False)  # the second line's keys
    # Only the second line turns: repaint that line, not the bar (half the bytes over SSH).
    page: reactive[int] = reactive(0, layout=False, repaint=False)

    def __init__(self) -> None:
        super().__init__()
        # Its lines by what they show: the bar goes back and forth between a few sets of keys
        # (a screen's; the switcher's over it, and back), each drawn once, not at every `s`
        # and digit (1.5-2 ms of their frames, traced).
        self._drawn: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(8)

    def render_lines(self, crop: Region) -> list[Strip]:
        key = (crop, self.size, self.keys, self.more, self.page, self.background_colors)
        strips = self._drawn.get(key)
        if strips is None:
            strips = self._drawn[key] = super().render_lines(crop)
        return strips

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()  # its colours (a theme): what is kept was drawn with the old ones

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)
        self._timer: Timer | None = None
        self._show_every_page()

    def on_show(self) -> None:
        self._show_every_page()  # its screen came back: go through the pages once more

    def _show_every_page(self) -> None:
        """Turn through the pages once, a page every few seconds, then rest on the first: every
        key is shown, and an idle screen then writes nothing (bytes over SSH). A timer only
        while the pages turn: a timer firing on a screen that is not shown repainted the whole
        terminal each time."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PAGE_EVERY_S, self._turn_page)

    def _turn_page(self) -> None:
        self._timer = None
        pages = len(self._pages(self.size.width))
        if pages < 2 or not self.screen.is_current:
            self.page = 0
            return
        # Only while nobody types: a repaint must never land in a keystroke's frame.
        if time.monotonic() - getattr(self.app, "last_key_at", 0.0) < PAGE_EVERY_S:
            self._timer = self.set_timer(PAGE_EVERY_S, self._turn_page)
            return
        self.page = (self.page + 1) % pages
        if self.page:  # back on the first page: the round is done
            self._timer = self.set_timer(PAGE_EVERY_S, self._turn_page)

    def watch_page(self) -> None:
        self.refresh(Region(0, 1, self.size.width, 1))

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        shown: dict[str, Key] = {}  # one key per action, as the footer shows them
        more: dict[str, Key] = {}
        focused = screen.focused
        for node, binding, enabled, _tooltip in screen.active_bindings.values():
            if focused is not None and node is not focused and _typed_into(focused, binding):
                continue
            key = (self.app.get_key_display(binding), binding.description, enabled)
            if binding.show and binding.action not in shown:
                shown[binding.action] = key
            elif binding.id and binding.description and binding.action not in more:
                more[binding.action] = key
        self.keys = tuple(shown.values())  # a reactive: no repaint when nothing changed
        self.more = tuple(k for action, k in more.items() if action not in shown)

    def _first_line(self, width: int) -> tuple[tuple[Key, ...], tuple[Key, ...]]:
        """The main keys that fit on the first line, and those that do not."""
        room = width
        for n, (key, description, _enabled) in enumerate(self.keys):
            room -= cell_len(key) + cell_len(description) + 3
            if room < 0:  # a key cut in half helps nobody: it goes to the second line
                return self.keys[:n], self.keys[n:]
        return self.keys, ()

    def _pages(self, width: int) -> list[tuple[Key, ...]]:
        """The second line's keys in pages that fit (room kept for the page number)."""
        pool = self._first_line(width)[1] + self.more
        pages: list[tuple[Key, ...]] = []
        page: list[Key] = []
        room = width - 6
        for item in pool:
            need = cell_len(item[0]) + cell_len(item[1]) + 3
            if page and need > room:
                pages.append(tuple(page))
                page, room = [], width - 6
            page.append(item)
            room -= need
        if page:
            pages.append(tuple(page))
        return pages

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        width = self.size.width
        text = Text(no_wrap=True, overflow="crop", end="")
        first, _rest = self._first_line(width)
        self._append(text, first, key_style, description_style)
        pages = self._pages(width)
        if pages:
            text.append("\n")
            self._append(text, pages[self.page % len(pages)], key_style, description_style)
            if len(pages) > 1:
                text.append(f" {self.page % len(pages) + 1}/{len(pages)}", description_style)
        return text

    @staticmethod
    def _append(text: Text, keys: tuple[Key, ...], key_style: Style,
                description_style: Style) -> None:
        for key, description, enabled in keys:
            dim = "" if enabled else " dim"
            text.append(f" {key} ", f"{key_style}{dim}")
            text.append(f"{description} ", f"{description_style}{dim}")
