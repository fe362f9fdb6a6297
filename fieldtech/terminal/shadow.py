"""What the terminal shows, cell by cell, so that a frame writes only what differs (issue 18).

Textual writes every line a widget refreshes, whole, with each segment's colours set and reset
(`\\x1b[…m text \\x1b[0m`), and a screen change writes the screen. Over SSH every byte is a
wait, so, as curses does, fieldtech keeps a copy of the terminal's cells: a frame becomes the
cells that differ from it, written with a colour change only where the colour changes, and a
block of lines that moved up or down (a list scrolled) is moved by the terminal itself
(a scroll region, DECSTBM, and index / reverse index: VT100, every terminal emulator has them),
so only the lines that came into view are written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from copy import copy
from itertools import compress, repeat
from operator import ne
from typing import NamedTuple

from rich.cells import get_character_cell_size
from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate
from textual.strip import Strip

Cell = tuple[str, Style | None]  # the text of one cell ("" right of a wide character), style
Row = list[Cell | None]  # None: not known (not written since the screen was last cleared)
BLANK: Cell = (" ", None)  # what a scroll leaves: a space in the terminal's default colours
REWRITE_GAP = 6  # unchanged cells shorter than a cursor move are rewritten, not jumped over
# What a space shows besides its background (a space's colour is otherwise invisible).
SHOWN_ON_SPACE = ("reverse", "underline", "underline2", "strike", "overline", "conceal")
MIN_SCROLL_LINES = 3  # a block of lines that moved, shorter than this, is simply rewritten


def update_pieces(update: CompositorUpdate) -> Iterator[tuple[int, int, Strip]]:
    """(y, x, strip) for every piece of line a compositor update writes, as Textual writes
    them (`LayoutUpdate.render_segments`, `ChopsUpdate.render_segments`)."""
    if isinstance(update, LayoutUpdate):
        for y, line in enumerate(update.strips, update.region.y):
            x = update.region.x
            for strip in line:
                yield y, x, strip
                x += strip.cell_length
        return
    assert isinstance(update, ChopsUpdate)
    for y, x1, x2 in update.spans:
        for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            if not (x2 > x >= x1 and end <= x2):
                strip = strip.crop(0, min(end, x2) - x)
            yield y, x, strip


def strip_cells(segments: Iterable[Segment],
                styles: dict[Style, Style] | None = None) -> list[Cell]:
    """The cells a strip paints, left to right. With `styles`, equal styles are given as one
    object (the first seen): cells then compare by identity, in C (rich compares two styles
    by their hashes, in Python: most of a frame's diff)."""
    cells: list[Cell] = []
    for text, style, control in segments:
        if control:
            continue
        if style is not None:
            if style.link or style._meta:
                style = _plain(style)  # compared by how it looks: no link, no mouse metadata
            if styles is not None:
                style = styles.setdefault(style, style)
        if text.isascii() and text.isprintable():  # one cell a character
            cells += zip(text, repeat(style))
            continue
        for ch in text:
            width = get_character_cell_size(ch)
            if width == 0:  # a combining mark joins the character before it
                if cells:
                    prev_text, prev_style = cells[-1] if cells[-1][0] else cells[-2]
                    at = -1 if cells[-1][0] else -2
                    cells[at] = (prev_text + ch, prev_style)
                continue
            cells.append((ch, style))
            if width == 2:
                cells.append(("", style))
    return cells


_PLAIN: dict[Style, Style] = {}


def _plain(style: Style) -> Style:
    plain = _PLAIN.get(style)
    if plain is None:
        if len(_PLAIN) > 4096:
            _PLAIN.clear()
        plain = _PLAIN[style] = style.clear_meta_and_links()
    return plain


def _shows_on_space(style: Style) -> bool:
    """Whether a space written in `style` shows more than its background."""
    return any(getattr(style, name) for name in SHOWN_ON_SPACE)


def _differing(old: Row, new: Row) -> int:
    """How many cells of a line differ."""
    return sum(map(ne, old, new))


def _text(row: Row) -> str:
    """A line's text (its cells all known)."""
    return "".join([cell[0] for cell in row])  # type: ignore[index]


def _near(new: Row, old: Row) -> bool:
    """Whether a line is an old one with a few cells changed (a scrollbar, a mark)."""
    return None not in old and _differing(old, new) <= len(new) // 8


class FrameAhead(NamedTuple):
    version: int  # the shadow's when it was worked out
    sequence: str
    after: TerminalShadow  # the shadow once it is written


class TerminalShadow:
    """The terminal's cells as last written; `frame` turns an update into what differs."""

    def __init__(self, color_system: ColorSystem | None, width: int = 0, height: int = 0):
        self.color_system = color_system
        self.resize(width, height)
        self._sgr: dict[tuple[Style | None, Style | None], str] = {}
        self._space: dict[tuple[Style | None, Style | None], Style | None] = {}
        self._styles: dict[Style, Style] = {}  # each style seen, as one object (strip_cells)

    version = 0  # counts the changes to what it holds: a frame written ahead holds until one

    def resize(self, width: int, height: int) -> None:
        """The terminal was resized (or cleared): nothing on it is known."""
        self.version += 1
        self.width, self.height = width, height
        self.rows: list[Row] = [[None] * width for _ in range(height)]
        self.target: list[Row] = [row.copy() for row in self.rows]  # what the app shows

    def invalidate(self) -> None:
        self.resize(self.width, self.height)

    def frame(self, update: CompositorUpdate, width: int, height: int) -> str:
        """The terminal sequence that brings the terminal from what it shows to `update`."""
        self.apply(update, width, height)
        return self.flush()

    def apply(self, update: CompositorUpdate, width: int, height: int) -> None:
        """What the app shows is now `update` over what it showed (nothing written yet)."""
        if (width, height) != (self.width, self.height):
            self.resize(width, height)
        self.version += 1
        target, styles = self.target, self._styles
        if len(styles) > 4096:  # a bound; styles no longer shown compare by value again
            styles.clear()
        for y, x, strip in update_pieces(update):
            if not 0 <= y < height or x >= width:
                continue
            cells = strip_cells(strip, styles)[:width - x]
            target[y][x:x + len(cells)] = cells

    def ahead(self, update: CompositorUpdate, width: int, height: int) -> FrameAhead:
        """What `frame(update, …)` would write, worked out now and taken later (`take`), so
        that writing it then costs no diff (~2-7 ms of the `s` key's, traced under load)."""
        after = copy(self)
        after.rows = [row.copy() for row in self.rows]
        after.target = [row.copy() for row in self.target]
        return FrameAhead(self.version, after.frame(update, width, height), after)

    def take(self, ahead: FrameAhead) -> str | None:
        """The terminal sequence worked out by `ahead`, now this shows it; None if what this
        holds has changed since (then `frame` it)."""
        if ahead.version != self.version:
            return None
        self.__dict__.update(ahead.after.__dict__)
        self.version += 1
        return ahead.sequence

    def flush(self) -> str:
        """The terminal sequence that makes the terminal show what the app shows."""
        self.version += 1
        target = [row.copy() for row in self.target]
        out: list[str] = []
        self._scroll(target, out)
        self._write_changes(target, out)
        return "".join(out)

    # -- moving lines ---------------------------------------------------------------------------

    def _scroll(self, target: list[Row], out: list[str]) -> None:
        """Move the largest block of lines that moved, with the terminal's scroll region."""
        rows = self.rows
        changed = [y for y in range(self.height) if target[y] != rows[y]]
        if len(changed) < MIN_SCROLL_LINES:
            return
        # Lines found by their text (cheap to hash), then compared whole (`matched` below).
        where: dict[str, list[int]] = {}
        for y, row in enumerate(rows):
            if None not in row:
                where.setdefault(_text(row), []).append(y)
        shifts: Counter[int] = Counter()
        for y in changed:
            if None in target[y]:
                continue
            for old_y in where.get(_text(target[y]), ()):
                if old_y != y and target[y] == rows[old_y]:
                    shifts[old_y - y] += 1
        if not shifts:
            return
        shift, count = shifts.most_common(1)[0]
        if count < MIN_SCROLL_LINES:
            return
        # The block: the new lines that are old lines moved by `shift`, first to last match,
        # and the lines beside it that nearly are (a scrollbar's thumb moved along them).
        height = self.height
        matched = [y for y in changed if 0 <= y + shift < height and target[y] == rows[y + shift]]
        top, bottom = matched[0], matched[-1] + 1  # new lines [top, bottom) come from old
        while top > 0 and 0 <= top - 1 + shift < height and _near(target[top - 1],
                                                                   rows[top - 1 + shift]):
            top -= 1
        while bottom < height and 0 <= bottom + shift < height and _near(target[bottom],
                                                                         rows[bottom + shift]):
            bottom += 1
        if shift > 0:  # content moves up: the region is old lines [top, bottom + shift)
            region_top, region_bottom = top, bottom + shift
        else:
            region_top, region_bottom = top + shift, bottom
        lines = abs(shift)
        block = rows[region_top:region_bottom]
        blank: list[Row] = [[BLANK] * self.width for _ in range(lines)]
        moved = block[lines:] + blank if shift > 0 else blank + block[:-lines]
        new_block = target[region_top:region_bottom]
        before = sum(_differing(a, b) for a, b in zip(block, new_block, strict=True))
        after = sum(_differing(a, b) for a, b in zip(moved, new_block, strict=True))
        if after + self.width >= before:  # lines that repeat (blank ones) are not a scroll
            return
        out.append("\x1b[0m" if self._pen is not None else "")
        self._pen = None
        out.append(f"\x1b[{region_top + 1};{region_bottom}r")
        if shift > 0:  # index at the region's bottom line scrolls it up
            out.append(f"\x1b[{region_bottom};1H" + "\x1bD" * lines)
        else:  # reverse index at its top line scrolls it down
            out.append(f"\x1b[{region_top + 1};1H" + "\x1bM" * lines)
        out.append("\x1b[r")  # the whole screen again (the cursor goes home)
        self._cursor = None
        rows[region_top:region_bottom] = moved

    # -- writing cells --------------------------------------------------------------------------

    _pen: Style | None = None  # the colours the terminal writes with now (None: default)
    _cursor: tuple[int, int] | None = None

    def _write_changes(self, target: list[Row], out: list[str]) -> None:
        for y in range(self.height):
            old, new = self.rows[y], target[y]
            if old == new:
                continue
            for start, end in self._runs(old, new):
                if self._cursor != (start, y):
                    out.append(f"\x1b[{y + 1};{start + 1}H")
                for x in range(start, end):
                    cell = new[x]
                    if cell is None or not cell[0]:  # the right half of a wide character
                        continue
                    text, style = cell
                    if style is not self._pen:  # (equal styles are one object: apply)
                        if text == " ":
                            style = self._space_pen(style)
                        if style is not self._pen and style != self._pen:
                            out.append(self._sgr_change(self._pen, style))
                        self._pen = style
                    out.append(text)
                self._cursor = (end, y) if end < self.width else None
            self.rows[y] = new
        if self._pen is not None:
            out.append("\x1b[0m")
            self._pen = None

    def _runs(self, old: Row, new: Row) -> list[tuple[int, int]]:
        """[start, end) spans of cells to write: the changed ones, joined over short gaps,
        widened so that no wide character is cut."""
        runs: list[list[int]] = []
        for x in compress(range(self.width), map(ne, old, new)):  # the cells that differ
            if new[x] is not None:
                if runs and x - runs[-1][1] <= REWRITE_GAP and None not in new[runs[-1][1]:x]:
                    runs[-1][1] = x + 1
                else:
                    runs.append([x, x + 1])
        for run in runs:
            while run[0] > 0 and new[run[0]] is not None and new[run[0]][0] == "":
                run[0] -= 1
            while run[1] < self.width and new[run[1]] is not None and new[run[1]][0] == "":
                run[1] += 1
        return [(start, end) for start, end in runs]

    def _space_pen(self, style: Style | None) -> Style | None:
        """The pen to write a space of `style` with: a space shows only its background
        (unless reversed, underlined, struck…), so the pen at hand with `style`'s background.
        A list line's padding changed colour ~3 times a line (~30 B of a 140 B line)."""
        key = (self._pen, style)
        space = self._space.get(key)
        if space is None:
            pen = self._pen
            if pen is not None and _shows_on_space(pen):
                pen = None  # a reversed or underlined pen: from the terminal's default
            if style is None or style.bgcolor is None or _shows_on_space(style):
                space = style
            elif pen is not None and pen.bgcolor == style.bgcolor:
                space = pen
            else:
                space = (pen or Style()) + Style(bgcolor=style.bgcolor)
            self._space[key] = space
        return space

    def _sgr_change(self, pen: Style | None, style: Style | None) -> str:
        """The SGR sequence from colours `pen` to `style`: only the colour that changes when
        the attributes (bold, reverse…) are the same, else a reset and the whole style."""
        key = (pen, style)
        sgr = self._sgr.get(key)
        if sgr is not None:
            return sgr
        system = self.color_system or ColorSystem.STANDARD
        if style is None:
            sgr = "\x1b[0m"
        elif pen is not None and self.color_system and pen.without_color == style.without_color:
            codes = []
            if pen.color != style.color:
                codes += style.color.downgrade(system).get_ansi_codes() if style.color else ["39"]
            if pen.bgcolor != style.bgcolor:
                codes += (style.bgcolor.downgrade(system).get_ansi_codes(False)
                          if style.bgcolor else ["49"])
            sgr = f"\x1b[{';'.join(codes)}m"
        else:  # no colour system (TERM=dumb): bold and the like only
            codes = Strip.render_ansi(style if self.color_system else style.without_color, system)
            sgr = f"\x1b[0;{codes}m" if codes else "\x1b[0m"
        self._sgr[key] = sgr
        return sgr
