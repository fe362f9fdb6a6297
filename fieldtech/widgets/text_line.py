"""Text in a fixed-size box that repaints without a layout pass.

`Static.update` asks for a relayout of the screen (its size may change): ~20 ms here on every
controller switch. The header, the top bar and the details have fixed sizes in CSS, so a
repaint is all they need.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget


class TextBox(Widget):
    text: reactive[str] = reactive("", layout=False)

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.text = text

    def update(self, text: str) -> None:
        self.text = text

    def render(self) -> str:
        return self.text
