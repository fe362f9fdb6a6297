"""A list on Textual's line API with a cursor: the base of the fleet list and record tables.

Only visible lines are rendered; each rendered line is kept in a small LRU cache; a cursor move
within view repaints just the two lines that changed. Subclasses say what a line shows
(`line_parts`) and what Enter means (`action_select`).

Marks are shared by every list (the fleet, triage): a subclass that says which record a line
is (`line_key`) gets space to mark, a range mark from the last mark to the cursor, and "mark
everything shown"; `MarksChanged` tells the screen, which shows the count.
"""

from __future__ import annotations

from collections.abc import Set
from math import ceil
from typing import ClassVar, Self

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget

from fieldtech.widgets.focus_styles import FocusStyles

EIGHTHS = len(ScrollBarRender.VERTICAL_BARS)  # a scrollbar's thumb moves by eighths of a cell

# (text, style name) pieces of one line; the style name is a `list--NAME` component class.
Parts = list[tuple[str, str]]


def fit(text: str, width: int) -> str:
    """`text` cut with an ellipsis or padded to exactly `width` cells (not characters: an
    emoji or a CJK name takes two, and would push the columns after it)."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


class CursorList(ScrollView, can_focus=True):
    class MarksChanged(Message):
        """The marks of a list changed: `count` records are marked now."""

        def __init__(self, cursor_list: CursorList, count: int):
            super().__init__()
            self.cursor_list = cursor_list
            self.count = count

    DEFAULT_CSS = """
    /* Lines are fitted to the width: nothing to scroll sideways, so no bar for it. */
    CursorList { background: $surface; overflow-x: hidden; }
    CursorList > .list--cursor { background: $accent 40%; text-style: bold; }
    CursorList:focus > .list--cursor { background: $accent; color: $text; }
    CursorList > .list--strong { text-style: bold; color: $text; }
    CursorList > .list--dim { color: $text-muted; }
    CursorList > .list--online { color: $success; }
    CursorList > .list--offline { color: $error; }
    CursorList > .list--warning { color: $warning; }
    CursorList > .list--pending { color: $secondary; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "list--cursor", "list--strong", "list--dim", "list--online", "list--offline",
        "list--warning", "list--pending",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Open", id="open"),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self.cursor = 0
        self._count = 0
        self._cache: LRUCache[tuple[int, bool, int], Strip] = LRUCache(256)
        self._styles: dict[str, Style] = {}
        self.marked: set[str] = set()  # keys (record ids) of the marked lines
        self._mark_anchor: int | None = None  # the line last marked: a range starts there
        self._focus_styles = FocusStyles()

    # -- for subclasses -----------------------------------------------------------------------

    def line_parts(self, line: int, width: int) -> Parts:
        raise NotImplementedError

    def action_select(self) -> None:
        """Enter on the line under the cursor."""

    def line_key(self, line: int) -> str | None:
        """The record a line is, for marks (None: this line cannot be marked)."""
        return None

    def shown_keys(self) -> Set[str]:
        """Every record the list shows (what `*` marks); subclasses may say it faster."""
        return {k for n in range(self._count) if (k := self.line_key(n)) is not None}

    def reset_lines(self, count: int, cursor: int = 0) -> None:
        """The content changed: `count` lines now, cursor on `cursor`."""
        self._count = count
        self._cache.clear()
        self._mark_anchor = None
        self._size_to_content()
        self.cursor = max(0, min(cursor, count - 1))
        self._center_cursor()
        self.refresh()

    def place_cursor(self, line: int) -> None:
        """The cursor on `line` (centred if out of view), the lines kept: what `reset_lines`
        does to the cursor, repainting only what moved."""
        if not self._count:
            return
        old, self.cursor = self.cursor, max(0, min(line, self._count - 1))
        if not self._center_cursor():
            self.refresh_lines(old)
            self.refresh_lines(self.cursor)

    def _center_cursor(self) -> bool:
        """Scroll the cursor's line to the middle if it is out of view (whether it was)."""
        height = self.scrollable_content_region.height or self.size.height
        top = self.scroll_offset.y
        if top <= self.cursor < top + max(1, height):
            return False
        self.scroll_to(y=max(0, self.cursor - height // 2), animate=False, force=True)
        return True

    # -- cursor -------------------------------------------------------------------------------

    def move_to(self, line: int) -> None:
        if not self._count:
            return
        line = max(0, min(line, self._count - 1))
        old, self.cursor = self.cursor, line
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        # force: rows set just before (a screen opening on a chosen row) have no scrollbar
        # yet, and Textual would refuse the scroll, leaving the cursor out of view.
        if line < top:
            self.scroll_to(y=line, animate=False, force=True)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False, force=True)
        else:  # still in view: repaint only the two lines that changed
            self.refresh_lines(old)
            self.refresh_lines(line)

    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self._count - 1)

    # -- marks ----------------------------------------------------------------------------------

    def toggle_mark(self) -> None:
        """Mark (or unmark) the line under the cursor and go to the next line."""
        key = self.line_key(self.cursor) if self._count else None
        if key is None:
            self.move_to(self.cursor + 1)
            return
        self.marked ^= {key}
        self._mark_anchor = self.cursor
        self.repaint_line(self.cursor)
        self._marks_changed()
        self.move_to(self.cursor + 1)

    def mark_range(self) -> None:
        """Mark every line from the last one marked (else the first) to the cursor."""
        if not self._count:
            return
        start = self._mark_anchor if self._mark_anchor is not None else 0
        low, high = sorted((start, self.cursor))
        keys = (self.line_key(n) for n in range(low, high + 1))
        self.marked.update(k for k in keys if k is not None)
        self._mark_anchor = self.cursor
        self._repaint_all()

    def mark_all(self) -> None:
        """Mark every line shown (through the filter); when all are marked already, unmark
        them."""
        keys = self.shown_keys()
        marked = self.marked
        if keys and keys <= marked:
            # all of them marked only (a set the size of the fleet: ~10 ms to take apart)
            self.marked = set() if len(marked) == len(keys) else marked - keys
        elif not marked:
            self.marked = set(keys)  # a set's copy is ~2 ms at 100,000, adding them ~10 ms
        else:
            marked |= keys
        self._repaint_all()

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self._repaint_all()

    def keep_marks(self, keys: set[str]) -> None:
        """Forget marks of records no longer in the list at all (deleted, resolved)."""
        if not self.marked <= keys:
            self.marked &= keys
            self._marks_changed()

    def repaint_line(self, line: int) -> None:
        """Paint `line` again (its words or its mark changed)."""
        for cursor in (True, False):
            self._cache.discard((line, cursor, self.scrollable_content_region.width))
        self.refresh_lines(line)

    def _repaint_all(self) -> None:
        self._cache.clear()
        self.refresh()
        self._marks_changed()

    def _marks_changed(self) -> None:
        self.post_message(self.MarksChanged(self, len(self.marked)))

    # -- focus: only the cursor's line shows it -----------------------------------------------
    # Textual repaints a widget whole when it gains or loses the focus, and again when a
    # component class's style changes with it (`list--cursor`): the list's lines and its
    # scrollbar re-rendered, every line of it written through the compositor and the shadow
    # (~5 ms of the first `s` on the fleet). Only the cursor's line looks different.

    def _on_focus(self, event: events.Focus) -> None:
        event.prevent_default()  # Textual's: has_focus, then a repaint of the whole list
        self.has_focus = True  # (already, after the switcher closing: nothing to do)
        if self.parent is not None:
            self.parent.post_message(events.DescendantFocus(self))

    def _on_blur(self, event: events.Blur) -> None:
        event.prevent_default()
        self.has_focus = False
        if self.parent is not None:
            self.parent.post_message(events.DescendantBlur(self))

    _restyling = False
    _repaint_asked = False

    def watch_has_focus(self, has_focus: bool) -> None:
        bar = self._bar_look()
        self._restyling = True
        try:
            self._focus_styles.restyle(self)  # the styles again (`refresh` below)
        finally:
            self._restyling = False
        if self._repaint_asked:
            self._repaint_asked = False
            if self._keep_lines_restyled():
                self.refresh_lines(self.cursor)
            else:  # more than the cursor's colours changed
                super().refresh()
        if self._bar_repaint_asked:
            self._bar_repaint_asked = False
            if self._bar_look() != bar and self._vertical_scrollbar is not None:
                self._vertical_scrollbar.refresh()

    _bar_repaint_asked = False

    def _bar_look(self) -> tuple[object, ...]:
        """What the scrollbar's colours come from (the list's styles: ScrollBar.render)."""
        styles = self.styles
        return (styles.scrollbar_color, styles.scrollbar_background,
                styles.scrollbar_color_hover, styles.scrollbar_background_hover,
                styles.scrollbar_color_active, styles.scrollbar_background_active,
                self.background_colors)

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """Textual's, as a `ListScrollBar` (created when first asked for)."""
        if self._vertical_scrollbar is None:
            self._vertical_scrollbar = bar = ListScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical)
            bar.display = False
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        if self._restyling and not (regions or layout or recompose):
            self._repaint_asked |= repaint  # decided once the styles are set (above)
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _refresh_scrollbars(self) -> None:
        super()._refresh_scrollbars()
        bar = self._vertical_scrollbar
        if bar is not None and bar.display and not self._bar_styled:
            # Textual styles a scrollbar (it is not in the DOM) with the list's next restyle:
            # the first change of focus (the first `s`), repainting it. Now, as it shows.
            self._bar_styled = True
            bar.update_node_styles(animate=False)

    _bar_styled = False

    # -- rendering ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._restyled = True  # compared at the next render: the new styles are not set yet

    _restyled = False
    _base: Style | None = None

    def _keep_lines_restyled(self) -> bool:
        """Keep the rendered lines whose styles did not change (whether only the cursor's
        line changed). A change of focus restyles only the cursor's line: leaving the list
        for a screen and coming back (Esc) re-renders one line, not the whole list (~7 ms of
        the first frame back)."""
        self._restyled = False
        old_styles, old_base = self._styles, self._base
        self._styles, self._base = {}, self.line_style
        if old_base != self._base or any(self._style(name) != style
                                         for name, style in old_styles.items()
                                         if name != "cursor"):
            self._cache.clear()
            return False
        cached = self._cache.keys()  # an LRUCache: not iterable itself
        for key in [key for key in cached if key[1]]:  # (line, is the cursor's, width)
            self._cache.discard(key)
        return True

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        # A layout hands a ScrollView the size of its children (none) as its virtual size,
        # never its own, so ScrollView saw a change at every layout of the screen and updated
        # its scrollbar: a repaint of the bar (21 lines, 1-5 ms) in the `s` key's frame. The
        # list sets its virtual size itself (`_size_to_content`).
        return super()._size_updated(size, self.virtual_size, container_size, layout)

    def on_resize(self) -> None:
        self._size_to_content()
        self._cache.clear()

    def _size_to_content(self) -> None:
        # Setting virtual_size costs a layout pass of the whole screen (~20 ms): skip it when
        # nothing changes, and let lists that fit in view keep the view's own height.
        if not self.size.height:  # not shown (a hidden tab): on_resize sizes it when shown
            return
        size = Size(self.size.width, max(self._count, self.size.height))
        if size == self.virtual_size:
            return
        if self._scrollbars_stay(size):
            # No scrollbar comes or goes (the finder's results, a zone table of 8 after one
            # of 12): no layout, just their new size, reported in the frame that paints the
            # new lines.
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
            self.refresh()
        else:
            self.virtual_size = size
            # Show or hide the bar now, as the layout would: done by the layout, it asks for
            # a second layout, a frame later (~40 ms after the switch to a 24-zone table).
            self._scroll_update(size)

    def _scrollbars_stay(self, size: Size) -> bool:
        """Would the scrollbars shown stay the same with content of `size`? (Lines are
        fitted to the width: only the vertical bar can come or go.)"""
        styles = self.styles
        if styles.overflow_x == "auto":
            return False
        if styles.overflow_y != "auto":
            return True
        return (size.height > self.container_size.height) == self.show_vertical_scrollbar

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"list--{name}")
        return style

    _pass_style: Style | None = None

    @property
    def line_style(self) -> Style:
        """The list's own style (`rich_style`), worked out once a render: Textual works it out
        from every ancestor's styles at each ask, two or three times a line (half of a zone
        table's 2-3 ms render at a switch, profiled)."""
        return self.rich_style if self._pass_style is None else self._pass_style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._pass_style = None

    def render_line(self, y: int) -> Strip:
        if self._restyled:
            self._keep_lines_restyled()
        line = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if line >= self._count:
            return Strip.blank(width, self.line_style)
        key = (line, line == self.cursor, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._render(line, width)
        return strip

    def _render(self, line: int, width: int) -> Strip:
        base = self._base = self.line_style
        cursor = line == self.cursor
        segments = []
        used = 0
        for text, style_name in self.line_parts(line, width):
            if cell_len(text) > width - used:
                text = set_cell_size(text, width - used)
            if not text:
                break
            style = base + self._style(style_name) if style_name else base
            if cursor:
                style += self._style("cursor")
            segments.append(Segment(text, style))
            used += cell_len(text)
        if used < width:
            pad = base + self._style("cursor") if cursor else base
            segments.append(Segment(" " * (width - used), pad))
        return Strip(segments, width)


class ListScrollBar(ScrollBar):
    """A list's scrollbar, not repainted by a restyle of the list that leaves its colours as
    they were: Textual repaints it as each of the list's scrollbar colours is set again,
    seven times a change of focus (21 lines, 1–5 ms of the first `s`'s frame). Its lines are
    kept by what they show: a scroll step moves the thumb of a 12,500-line list only every
    ~75 steps, and Textual rendered the bar's 21 lines again at each (1–10 ms a step)."""

    def __init__(self, vertical: bool = True, name: str | None = None, *,
                 thickness: int = 1) -> None:
        super().__init__(vertical, name, thickness=thickness)
        self._shown: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(8)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._shown.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        owner = self.parent
        if not isinstance(owner, CursorList):
            return super().render_lines(crop)
        key = (crop, self.size, self.thickness, self._thumb(), self.grabbed is not None,
               self.mouse_over, owner._bar_look())
        strips = self._shown.get(key)
        if strips is None:
            strips = self._shown[key] = super().render_lines(crop)
        return strips

    def _thumb(self) -> tuple[int, int]:
        """Where the thumb starts and ends, in eighths of a cell, as ScrollBarRender.render_bar
        places it (the bar's look, but for its colours)."""
        size = self.size.height if self.vertical else self.size.width
        virtual = ceil(self.window_virtual_size)
        window = ceil(self.window_size) if self.window_size < self.window_virtual_size else 0
        if not (window and size and virtual and size != virtual):
            return -1, -1
        thumb = max(1, window / (virtual / size))
        start = int((size - thumb) * (self.position / (virtual - window)) * EIGHTHS)
        return start, start + ceil(thumb * EIGHTHS)

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        owner = self.parent
        if isinstance(owner, CursorList) and owner._restyling and not (
                regions or layout or recompose):
            owner._bar_repaint_asked |= repaint  # the list decides once its styles are set
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
