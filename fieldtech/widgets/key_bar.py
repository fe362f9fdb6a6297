"""The footer's keys as one line of text, repainted only when they change.

Textual's `Footer` recomposes a widget per key each time the bindings change (every focus
change, often two or three times in a row): a layout pass and a repaint each, after the frame a
switch already painted. This draws the same keys as text, and repaints only if they differ.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

Key = tuple[str, str, bool]  # (key as shown, description, enabled)


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom; height: 1; color: $footer-foreground; background: $footer-background;
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

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        shown: dict[str, Key] = {}  # one key per action, as the footer shows them
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (self.app.get_key_display(binding),
                                         binding.description, enabled)
        self.keys = tuple(shown.values())  # a reactive: no repaint when nothing changed

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        text = Text(no_wrap=True, overflow="crop", end="")
        room = self.size.width
        for key, description, enabled in self.keys:
            room -= cell_len(key) + cell_len(description) + 3
            if room < 0:  # a key cut in half helps nobody: the rest are in the help (?)
                break
            dim = "" if enabled else " dim"
            text.append(f" {key} ", f"{key_style}{dim}")
            text.append(f"{description} ", f"{description_style}{dim}")
        return text
