"""Typed text (names, notes, addresses) and servers' messages inside Textual markup, shown as is.

Every Static, Label, TextBox, Option and dialog title parses its string as markup: a customer
called `Bed [/] 2` would crash the screen (MarkupError) and `[b]x` would show a bold x.
"""

from __future__ import annotations

ZERO_WIDTH_SPACE = "\u200b"


def escape(text: str) -> str:
    """`text` for a Textual markup string: its square brackets are never read as tags.

    Not `rich.markup.escape`: Textual's parser is not Rich's. That one leaves `[/` before a tag,
    `[$var]` and `[B]` as markup, and doubles a backslash before a bracket.
    """
    escaped = text.replace("[", r"\[")
    # Textual has no escape for a backslash: one at the end would escape the tag after it.
    return escaped + ZERO_WIDTH_SPACE if escaped.endswith("\\") else escaped
