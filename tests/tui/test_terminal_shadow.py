"""Frames written as what changed (fieldtech/terminal/shadow.py) leave the terminal showing what
Textual's own, whole, output would: both are played on a terminal emulator (pyte) and compared
cell by cell, colours included; and a list that moved by a line is moved, not rewritten."""

from __future__ import annotations

import random

import pyte
from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.geometry import Region
from textual.strip import Strip

from fieldtech.terminal.shadow import TerminalShadow
from tests.tui.pty_app import shown

W, H = 40, 12
CONSOLE = Console(color_system="256", force_terminal=True, width=W)
STYLES = [Style(color="red", bgcolor="grey15"), Style(color="green", bgcolor="grey15", bold=True),
          Style(color="white", bgcolor="blue"), Style(color="yellow", bgcolor="grey15", dim=True)]


def line(text: str, style: Style, width: int = W) -> Strip:
    words = text.split(" ")
    segments = [Segment(word + " ", STYLES[(i + len(word)) % len(STYLES)] if i else style)
                for i, word in enumerate(words)]
    return Strip(segments).crop_extend(0, width, STYLES[0])


def full(lines: list[Strip]) -> LayoutUpdate:
    return LayoutUpdate([[strip] for strip in lines], Region(0, 0, W, len(lines)))


def partial(y: int, x: int, strip: Strip) -> ChopsUpdate:
    """`strip` written at (x, y), as the compositor writes one widget's part of a line."""
    chops = [{0: None} for _ in range(H)]
    ends = [[W] for _ in range(H)]
    chops[y] = {0: None, x: strip}
    ends[y] = [x, x + strip.cell_length]
    return ChopsUpdate(chops, [(y, x, x + strip.cell_length)], ends)


def played(stream: str) -> list[list[tuple[str, str, str, bool]]]:
    screen = pyte.Screen(W, H)
    pyte.Stream(screen).feed(stream)
    return [[shown(c) for c in (screen.buffer[y][x] for x in range(W))] for y in range(H)]


def both(updates: list) -> tuple[list, list, list[str]]:
    """(screen from Textual's output, screen from the shadow's, the shadow's frames)."""
    shadow = TerminalShadow(ColorSystem.EIGHT_BIT)
    textual_out, frames = "", []
    for update in updates:
        textual_out += update.render_segments(CONSOLE)
        frames.append(shadow.frame(update, W, H))
    return played(textual_out), played("".join(frames)), frames


SITES = ["North lawn", "Back yard garden", "Side strip", "Orchard and beds", "Courtyard"]


def lines_from(n: int, cursor: int | None = None) -> list[Strip]:
    return [line(f"{SITES[(n + i) % 5]} {(n + i) * 37 % 1000} Café 日本 online",
                 STYLES[2] if i == cursor else STYLES[0]) for i in range(H)]


def test_a_first_frame_writes_everything_and_the_same_frame_again_nothing() -> None:
    expected, got, frames = both([full(lines_from(0)), full(lines_from(0))])
    assert got == expected
    assert frames[0] and frames[1] == ""


def test_a_scrolled_list_is_moved_by_the_terminal_and_matches() -> None:
    # A list between a top bar and a key bar (lines 0 and H-1 stay) scrolls by one line.
    def screen(top: int) -> list[Strip]:
        body = lines_from(top)[: H - 2]
        return [line("header bar", STYLES[1]), *body, line("keys: q quit", STYLES[3])]

    expected, got, frames = both([full(screen(0)), full(screen(1)), full(screen(0))])
    assert got == expected
    assert "\x1b[2;11r" in frames[1] and "\x1bD" in frames[1]  # up: index in a region
    assert "\x1bM" in frames[2]  # down: reverse index
    assert len(frames[1]) < len(frames[0]) / 4  # one new line, not the list


def test_wide_characters_and_partial_updates_match() -> None:
    rng = random.Random(18)
    updates: list = [full(lines_from(0))]
    for _ in range(60):
        y, x = rng.randrange(H), rng.randrange(W - 8)
        word = rng.choice(["x", "日本", "ab", "Café", "█▌", "  "])
        strip = Strip([Segment(word, rng.choice(STYLES))])
        updates.append(partial(y, x, strip))
        if rng.random() < 0.2:
            top = rng.randrange(4)
            updates.append(full(lines_from(top, cursor=rng.randrange(H))))
    expected, got, _ = both(updates)
    assert got == expected


def test_a_resize_forgets_what_was_on_screen() -> None:
    shadow = TerminalShadow(ColorSystem.EIGHT_BIT)
    first = shadow.frame(full(lines_from(0)), W, H)
    assert shadow.frame(full(lines_from(0)), W, H) == ""
    assert shadow.frame(full(lines_from(0)), W, H + 1) == first  # new size: all written


def test_spaces_are_written_in_the_colour_at_hand_unless_their_colour_shows() -> None:
    red, green = Style(color="red", bgcolor="grey15"), Style(color="green", bgcolor="grey15")
    padded = Strip([Segment("ab", red), Segment("   ", green), Segment("cd", red)])
    under = Strip([Segment("ab", red), Segment("   ", green + Style(underline=True)),
                   Segment("cd", red)])
    shadow = TerminalShadow(ColorSystem.EIGHT_BIT)
    frame = shadow.frame(full([padded.crop_extend(0, W, red)] + [Strip.blank(W, red)] * (H - 1)),
                         W, H)
    assert "\x1b[32m" not in frame and ";32" not in frame  # green: never needed
    shadow = TerminalShadow(ColorSystem.EIGHT_BIT)
    track = Strip([Segment("ab", red), Segment("  ", Style(color="green", bgcolor="blue"))])
    frame = shadow.frame(full([track.crop_extend(0, W, red)] + [Strip.blank(W, red)] * (H - 1)),
                         W, H)
    assert "b\x1b[44m  " in frame  # another background: the background only
    textual, ours, _ = both([full([under.crop_extend(0, W, red)]
                                  + [Strip.blank(W, red)] * (H - 1))])
    assert ours == textual  # underlined spaces keep their colour
    _, _, frames = both([full([under.crop_extend(0, W, red)] + [Strip.blank(W, red)] * (H - 1))])
    assert "4" in frames[0].split("ab", 1)[1].split("cd")[0]  # the underline is written


def test_a_frame_worked_out_ahead_writes_what_it_would_have_then() -> None:
    """`ahead` works a frame out without changing the shadow; `take` then gives the very
    sequence `frame` would have written and leaves the shadow as `frame` would; a change to
    the shadow in between makes it stale (None: the frame is worked out again)."""
    lines = [line(f"row {y} of the list", STYLES[y % 3]) for y in range(H)]
    moved = [*lines[1:], line("a new row", STYLES[1])]
    dialog = [*moved[:3], *(line(f"| box {y} |", STYLES[2]) for y in range(4)), *moved[7:]]
    shadow, plain = TerminalShadow(ColorSystem.EIGHT_BIT), TerminalShadow(ColorSystem.EIGHT_BIT)
    for update in (full(lines), full(moved)):
        shadow.frame(update, W, H)
        plain.frame(update, W, H)
    ahead = shadow.ahead(full(dialog), W, H)
    assert shadow.rows == plain.rows and shadow.target == plain.target  # unchanged
    expected = plain.frame(full(dialog), W, H)
    assert expected and shadow.take(ahead) == expected
    assert shadow.rows == plain.rows and shadow.target == plain.target
    assert shadow.frame(full(dialog), W, H) == ""  # it shows the dialog: nothing to write
    stale = shadow.ahead(full(moved), W, H)
    shadow.apply(partial(2, 5, line("x", STYLES[0], 3)), W, H)
    assert shadow.take(stale) is None
