"""The switcher (`s` then a digit: pinned and recent controllers) and the fuzzy finder (`f`).

`Switcher` is an overlay on the current screen: opening and closing it are a repaint of its own
box, not a screen change, so `s` + digit costs one frame. `SwitcherScreen` wraps it in a modal
dialog for screens that have no overlay (forms, on site) and for picking a copy source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import ClassVar, NamedTuple

from textual import events
from textual._compositor import LayoutUpdate
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Offset, Size
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from fieldtech.offline_store.store import FleetRow
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.screens.markup import escape
from fieldtech.screens.services import services_of
from fieldtech.terminal.shadow import FrameAhead
from fieldtech.widgets.fleet_list import FleetList
from fieldtech.widgets.key_bar import KeyBar, types_key
from fieldtech.widgets.text_line import TextBox

Shortcuts = list[tuple[FleetRow, bool]]  # (row, pinned), keys 1–9 in order
Picked = Callable[[str | None], None]  # the chosen controller id, None if cancelled
# A screen the choice swapped out gets its focus back after the frame and before a digit
# could swap it in again (rendered ahead ≥ 90 ms after the next `s`: controller.py).
FOCUS_BACK_LATER_S = 0.06


class SearchBox(Input):
    """The switcher's search box: while empty, a digit is a shortcut, not text.

    A keystroke paints in one frame with the results it finds: each change of the text holds
    the app's updates (`watch_value`) until the switcher has shown the results (`release`).
    """

    # Input sets its virtual size (the text's width) on every change of the text, which asks
    # for a layout of the whole screen (~10 ms a keystroke here). The box has a fixed size and
    # no scrollbar to show: a repaint is all it needs; it scrolls its text by the virtual size.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, shortcuts: int, **kwargs: object):
        super().__init__(**kwargs)
        self.shortcuts = shortcuts  # how many digits open one
        self.digits_open = True  # the switcher (not the finder): a first digit never searches
        self._held: list[AbstractContextManager[None]] = []

    def watch_value(self) -> None:
        # Runs as the text changes, before Input posts its Changed (one per change): the
        # switcher releases this once it has handled that Changed.
        if self.is_attached:
            batch = self.app.batch_update()
            batch.__enter__()
            self._held.append(batch)

    def release(self) -> None:
        """The change of text has been shown: let the screen paint it, one turn later.

        The results list reports its change to the screen from its own message queue, on the
        event loop's next turn; the batch ends after that, so one refresh paints both the
        text and its results (not the text a frame, ~16–30 ms, before the results).
        """
        if self._held:
            asyncio.get_running_loop().call_soon(_end_batch, self._held.pop(0), self.screen)

    def on_unmount(self) -> None:
        while self._held:  # a Changed that was never handled must not freeze the display
            self._held.pop().__exit__(None, None, None)

    def _is_shortcut(self, character: str | None) -> bool:
        return bool(self.digits_open and not self.value and character
                    and character in "123456789")

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # Keeps the switcher's digit bindings in the binding chain while the box is empty.
        return not self._is_shortcut(character) and super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if self._is_shortcut(event.character):
            event.prevent_default()  # skip Input's own handler; the key bubbles to the bindings


def _focus_now(widget: Widget | None, screen: Screen | None = None) -> None:
    """Focus `widget` with its focus style and the footer's keys in this frame, not later.

    Textual applies them when the focus events arrive, which is a frame (or two) after the
    one that shows the switcher open or closed.
    """
    screen = screen or (widget.screen if widget is not None else None)
    if screen is None:
        return
    blurred = screen.focused
    _set_focus_quietly(screen, widget)
    if blurred is not None and blurred is not widget:
        blurred.has_focus = False
    if widget is not None:
        widget.has_focus = True
    screen.refresh_bindings()


def _set_focus_quietly(screen: Screen, widget: Widget | None) -> None:
    """`screen.set_focus(widget)` without the repaint of the whole screen that Textual's
    `Screen.focused` (a reactive that repaints) asks for: the screen shows no focus of its
    own, and that repaint put every line of it through the compositor and the shadow again
    (~3 ms of the `s` key's frame). The widgets that show the focus repaint themselves."""
    repainting = screen._repaint_required
    screen.set_focus(widget)
    if not repainting:
        screen._repaint_required = False
        screen._repaint_regions.clear()
        screen._dirty_regions.clear()


def _show_focus(screen: Screen, widget: Widget | None, blurred: Widget | None) -> None:
    """What a change of focus shows (the focus styles, the key bar's keys), without the
    focus itself: no Focus or Blur messages, nothing a widget does on them."""
    screen.set_reactive(Screen.focused, widget)
    if blurred is not None:
        blurred.has_focus = False
    if widget is not None:
        widget.has_focus = True
    screen._update_focus_styles(widget, blurred)
    for bar in screen.query(KeyBar):  # now: the signal reaches it from its message queue
        bar._bindings_changed(screen)


def _lay_out_now(screen: Screen) -> None:
    """Lay the screen out now, with the places its widgets have now: Textual learns of a
    move from the moved widget's message queue, a turn later."""
    screen._clear_arrangement_cache()
    screen._refresh_layout(screen.app.size)


def _end_batch(batch: AbstractContextManager[None], screen: Screen) -> None:
    batch.__exit__(None, None, None)
    if screen.is_attached:
        screen.check_idle()  # the screen paints what it was told during the batch


def _rehearsing(_controller_id: str | None) -> None:
    """The switcher shows itself open to render its frame ahead: nothing is picked."""


def _has_changes(screen: Screen) -> bool:
    return bool(screen._layout_required or screen._scroll_required
                or screen._repaint_required or screen._dirty_widgets)


class _AheadFrame(NamedTuple):
    size: Size
    frame: LayoutUpdate
    cursor: Offset  # the terminal's cursor
    written: int | None  # the app's frames written when it was rendered
    focused: Widget | None  # the focus it was rendered from
    shortcuts: Shortcuts
    written_ahead: FrameAhead | None  # what writing it writes, worked out too


class Switcher(Vertical):
    """Pick a controller: a digit for a pinned/recent one, or type to search every controller.

    `open()` shows it with its shortcuts and what to call with the choice; it hides itself
    (and gives the focus back) before calling.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("enter", "choose", "Open", show=False),
        # The search box leaves digits to these while it is empty (SearchBox).
        *[Binding(str(n), f"shortcut({n})", f"Open {n}", show=False)
          for n in range(1, 10)],
    ]

    # The results' scrollbar always shows: one appearing with the first results would cost
    # layout passes in frames of their own (and so the list sizes itself without a layout).
    DEFAULT_CSS = """
    Switcher #finder-list { overflow-y: scroll; overflow-x: hidden; }
    """


    def __init__(self, *, id: str | None = None, classes: str | None = None,
                 parked: bool = False):
        super().__init__(id=id, classes=f"dialog {classes or ''}".strip())
        self.shortcuts: Shortcuts = []
        self.finder = False
        self.purpose: tuple[str, str] | None = None  # (title, what Enter does) if not opening
        self._picked: Picked | None = None
        self._return_focus: Widget | None = None
        self._items_text: str | None = None
        if parked:
            self._park()

    def compose(self) -> ComposeResult:
        yield TextBox(id="switcher-title", classes="dialog-title")
        yield SearchBox(0, placeholder="Name, customer, address or serial", id="finder-input")
        yield Static(id="switcher-items")
        yield FleetList(grouped=False, id="finder-list", classes="hidden")
        yield TextBox(classes="dialog-hint", id="finder-hint")

    @property
    def is_open(self) -> bool:
        return self._picked is not None

    # -- parked: laid out and rendered, off the screen (the overlay's closed state) ----------

    PARKED_Y = 10_000  # rows below the screen's top: never in view
    # Rendering ahead (~10-25 ms on the event loop) waits for the screen to be quiet: the
    # key's frames written (a controller's last comes ~0.3 s after its digit, each putting
    # this off again), no key for a moment (held keys come every 33 ms, typed ones rarely
    # within 150 ms of the frame before), none read and waiting. An `s` a third of a second
    # after another key then writes the frame ahead (waiting 1 s, it took the path before:
    # 53 ms in a pty under load, traced).
    REHEARSE_AFTER_S = 0.1  # no frame written for this long
    REHEARSE_AFTER_KEY_S = 0.15  # and no key
    REHEARSE_RETRY_S = 0.03  # a key waiting, or changes not drawn yet: look again after
    # A frame written this soon after a rehearsal may be its doing (it would start another):
    # a few of those, then wait for a key. Frames written while idle (the key bar's pages, a
    # sync, the clock) come later and count for nothing.
    REHEARSAL_LOOP_S = 0.1
    REHEARSALS_PER_KEY = 3

    _ahead: _AheadFrame | None = None  # the `s` key's frame, rendered ahead

    @property
    def parked(self) -> bool:
        return self.styles.offset.y.value == self.PARKED_Y

    def _park(self) -> None:
        """Move the closed overlay off the screen instead of hiding it: its widgets keep their
        sizes and their rendered lines, so opening it moves lines already rendered (hidden,
        each opening rendered them all again: ~12 ms of the `s` key's frame)."""
        self.styles.offset = (0, self.PARKED_Y)

    def _unpark(self) -> None:
        if self.styles.clear_rule("offset"):  # back to its place in the CSS
            self.refresh(layout=True, repaint=False)  # moved, not changed

    def allow_focus_children(self) -> bool:
        return not self.parked and super().allow_focus_children()  # Tab never lands here

    def prepare(self, shortcuts: Shortcuts) -> None:
        """Fill the parked switcher with what `s` will show, and render its lines once it is
        laid out: the first `s` then renders nothing new but the search box's focus."""
        self._fill(shortcuts, finder=False, purpose=None)
        self.call_after_refresh(self._render_ahead)

    def _render_ahead(self) -> None:
        if not (self.parked and self.is_attached) or self.is_open:
            return
        for widget in self.walk_children(with_self=True):
            if widget.display and widget.region:  # in the screen's map, off the screen
                widget.render_lines(widget.region.reset_offset)
        self._rehearse_soon()

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        written = getattr(self.app, "frame_written_signal", None)
        if written is not None:
            written.subscribe(self, lambda _app: self._frame_written(), immediate=True)

    def on_unmount(self) -> None:
        self.app.screen_change_signal.unsubscribe(self)
        written = getattr(self.app, "frame_written_signal", None)
        if written is not None:
            written.unsubscribe(self)

    def _screen_changed(self, screen: Screen) -> None:
        if screen is self.screen and self.parked:  # back on top: what it shows has changed
            self._rehearse_soon()

    _rehearse_timer: Timer | None = None
    _retries = 0  # looked again while busy, since it was last free
    _rehearsed_at = 0.0  # time.monotonic() at the end of the last rehearsal
    _loops = (0.0, 0)  # (the last key's time, frames written right after a rehearsal since)

    def _frame_written(self) -> None:
        if time.monotonic() - self._rehearsed_at < self.REHEARSAL_LOOP_S:
            key_at = getattr(self.app, "last_key_at", 0.0)
            self._loops = (key_at, self._loops[1] + 1 if self._loops[0] == key_at else 1)
        self._rehearse_soon()

    def _rehearse_soon(self) -> None:
        """Render the `s` key's frame ahead once the screen has been quiet a moment."""
        self._ahead = None
        timer = self._rehearse_timer
        if not (self.parked and self.is_attached and self.app.screen_stack
                and self.screen is self.app.screen):
            # Covered (or open): it rehearses when its screen is back on top (_screen_changed).
            if timer is not None:
                timer.stop()
                self._rehearse_timer = None
        else:
            if timer is not None:  # (reset() would keep its delay: a retry's may be short)
                timer.stop()
            self._set_rehearse_timer(self.REHEARSE_AFTER_S)

    def _set_rehearse_timer(self, delay: float) -> None:
        # In the switcher's own context: set from another widget's callback (a frame written,
        # a screen change), the timer's task kept that one's context, and with it the widget
        # Textual holds there as the active one: a closed form was never freed (test_memory).
        with self._context():
            self._rehearse_timer = self.set_timer(delay, self._rehearse,
                                                  name="rehearse the switcher")

    def _s_opens_it(self, focused: Widget | None) -> bool:
        """Whether the switcher's key (`s`, or what the user put it on) reaches the app's
        binding from this focus: a text box types a letter, not an F-key."""
        keys = getattr(self.app, "_keymap", {}).get("switcher") or "s"  # as Textual reads it
        return focused is None or any(not types_key(focused, key) for key in keys.split(","))

    def _shortcuts_for_s(self) -> Shortcuts:
        """The shortcuts the `s` key would open this switcher with now: the app's to say
        (its `switcher_shortcuts`); without one, the last opening's."""
        ask: Callable[[], Shortcuts] | None = getattr(self.app, "switcher_shortcuts", None)
        return ask() if ask is not None else self.shortcuts

    def _shows_opening(self, shortcuts: Shortcuts) -> bool:
        """Whether the switcher holds what `open(shortcuts)` shows: nothing typed, the
        shortcuts listed, no results, the switcher's title and hint (not the finder's)."""
        box = self.query_one("#finder-input", SearchBox)
        return (not box.value and not self.finder and self.purpose is None
                and self.shortcuts == shortcuts and self._items_text == self._shortcut_text()
                and self.query_one("#finder-list").has_class("hidden")
                and bool(self.query_one("#switcher-items").display)
                and self.query_one("#switcher-title", TextBox).text == "Switch to…"
                and self.query_one("#finder-hint", TextBox).text == self._hint())

    def _show_opening(self, shortcuts: Shortcuts) -> None:
        """Fill the parked switcher with what `open(shortcuts)` will show: a closing keeps
        what was typed, its results, the finder's state and the last opening's shortcuts."""
        box = self.query_one("#finder-input", SearchBox)
        box.shortcuts, box.digits_open = len(shortcuts), True
        self._fill(shortcuts, finder=False, purpose=None)
        if box.value:
            cursor = self.app.cursor_position
            box.value = ""  # posts Changed: the results are emptied, as open() does
            self.app.cursor_position = cursor  # Input moved the terminal's cursor to it

    def _layout_pending(self) -> bool:
        """Whether a widget of the switcher asked for a layout Textual has not done: it tells
        the screen in its own turn, which may come after the screen's (the items grew from
        one line to two: a frame rendered before showed one). Rendered now, the frame would
        show the old arrangement."""
        return any(widget._layout_required for widget in self.walk_children(with_self=True))

    def _rehearse(self) -> None:
        """Render the frame `s` will write, ahead, and keep it (issue 18): `s` then writes it
        at once, before its own handling (the focus's styles), layout, render and diff
        (~20-35 ms, doubled under load, traced); Textual's own frame for it follows and
        differs in nothing. The open state is shown to the compositor only, in a batch
        (nothing drawn), and taken back before it ends."""
        self._rehearse_timer = None
        screen, app = self.screen, self.app
        if (not app.screen_stack  # the app is closing
                or not (self.parked and self.is_attached and screen is app.screen)
                or self.is_open):
            return
        typed = time.monotonic() - getattr(app, "last_key_at", 0.0)
        key_waiting: Callable[[], bool] | None = getattr(app, "key_waiting", None)
        if app._batch_count or _has_changes(screen) or self._layout_pending() or (
                key_waiting is not None and key_waiting()):
            # Busy: soon again, less often while it stays busy (a frame drawn meanwhile
            # puts it off REHEARSE_AFTER_S).
            self._set_rehearse_timer(min(self.REHEARSE_AFTER_S,
                                         self.REHEARSE_RETRY_S * 2 ** self._retries))
            self._retries = min(self._retries + 1, 3)  # (2 ** 1024 is no float: a crash)
            return
        self._retries = 0
        if typed < self.REHEARSE_AFTER_KEY_S:  # the frames quiet (a frame resets the timer)
            self._set_rehearse_timer(self.REHEARSE_AFTER_KEY_S - typed)  # and the keys then
            return
        if not self._s_opens_it(screen.focused):
            return  # `s` is typed into the focused box (a filter): nothing to render ahead
        # A frame written right after each would start another: a few, then wait for a key.
        key_at = getattr(app, "last_key_at", 0.0)
        if self._loops[0] == key_at and self._loops[1] >= self.REHEARSALS_PER_KEY:
            return
        shortcuts = self._shortcuts_for_s()
        if not self._shows_opening(shortcuts):
            # What it renders must be what `s` shows (not the last opening's search): filled
            # now, rendered once what that fill posted has been handled and drawn (nothing
            # to write: the switcher is off the screen).
            self._show_opening(shortcuts)
            if self._shows_opening(shortcuts):
                self.call_after_refresh(self._rehearse)
            return
        box = self.query_one("#finder-input", SearchBox)
        back = screen.focused
        # Where Input puts the terminal's cursor as it takes the focus: before the layout
        # moves it into view (so the `s` key's frame has it there too).
        cursor = screen.outer_size.clamp_offset(box.cursor_screen_offset)
        written = getattr(app, "frames_written", 0)
        cursor_visible = box._cursor_visible
        touched = [*self.walk_children(with_self=True), *screen.query(KeyBar), back]
        waiting = {widget for widget in touched if widget and widget._repaint_required}
        with app.batch_update():
            self._picked = _rehearsing
            try:
                self.styles.clear_rule("offset")
                _show_focus(screen, box, back)
                box._cursor_visible = True  # Input shows it as it takes the focus
                _lay_out_now(screen)
                frame = screen._compositor.render_update(full=True)
            finally:
                self._picked = None
                box._cursor_visible = cursor_visible
                _show_focus(screen, back, box)
                self._park()
                # Laid out closed again before the batch ends: the refresh Textual queued
                # for the layout above must not draw the open switcher's map.
                _lay_out_now(screen)
                # Back as the terminal shows it: nothing to lay out or draw again (a frame
                # that wrote nothing, ~5 ms on the event loop).
                self._layout_required = False
                for widget in touched:
                    if widget is not None and widget not in waiting:
                        widget._repaint_required = False
                screen._compositor._dirty_regions.clear()
        self._rehearsed_at = time.monotonic()
        if isinstance(frame, LayoutUpdate):
            frame_ahead = getattr(app, "frame_ahead", None)
            self._ahead = _AheadFrame(app.size, frame, cursor, written, back,
                                      list(self.shortcuts),
                                      frame_ahead(frame) if frame_ahead else None)

    def _write_ahead(self, shortcuts: Shortcuts) -> None:
        """Write the frame rendered ahead for this opening if it still holds: nothing was
        written since (the screen shows what it rendered over), nothing waits to be drawn,
        the same shortcuts and focus, and the switcher still holds what this opening shows
        (nothing typed, no results: a search since would make `open()` clear them, and
        Textual would then repaint only what the smaller switcher covers)."""
        kept, self._ahead = self._ahead, None
        screen, app = self.screen, self.app
        if (kept is not None and kept.size == app.size and screen is app.screen
                and kept.written == getattr(app, "frames_written", 0)
                and kept.focused is screen.focused and kept.shortcuts == shortcuts
                and self._shows_opening(shortcuts) and not self._layout_pending()
                and not app._batch_count and not _has_changes(screen)):
            app.cursor_position = kept.cursor
            if (display_ahead := getattr(app, "display_ahead", None)) is not None:
                display_ahead(screen, kept.frame, kept.written_ahead)
            else:
                app._display(screen, kept.frame)

    def _fill(self, shortcuts: Shortcuts, finder: bool,
              purpose: tuple[str, str] | None) -> None:
        """What the switcher shows for `shortcuts` (finder: the finder), changing only what
        differs (each change renders again)."""
        self.shortcuts, self.finder, self.purpose = shortcuts, finder, purpose
        title = purpose[0] if purpose else "Find a controller" if finder else "Switch to…"
        self.query_one("#switcher-title", TextBox).update(escape(title))
        self.query_one("#finder-hint", TextBox).update(self._hint())
        items = self.query_one("#switcher-items", Static)
        text = self._shortcut_text()
        if text != self._items_text:
            items.update(text)
            self._items_text = text
        if items.display == finder:
            items.display = not finder
        # The finder's results keep their place while it is open (empty until you type):
        # a list that appeared with the first letter would cost a layout or two.
        self.query_one("#finder-list", FleetList).set_class(not finder, "hidden")

    def open(self, shortcuts: Shortcuts, picked: Picked, finder: bool = False,
             purpose: tuple[str, str] | None = None) -> None:
        """Show the switcher (or, with `finder`, the finder); `picked` gets the choice.
        `purpose`: (title, what Enter does) when the choice is not opened, e.g. a copy source."""
        if not finder and purpose is None:
            self._write_ahead(shortcuts)
        self._ahead = None
        self._picked = picked
        box = self.query_one("#finder-input", SearchBox)
        box.shortcuts = 0 if finder else len(shortcuts)
        box.digits_open = not finder
        with self.app.batch_update():
            if box.value:
                box.value = ""  # posts Changed: the results hide again
            self._fill(shortcuts, finder, purpose)
            self._return_focus = self.screen.focused
            if not self.display:  # the dialog's (setting it again renders it again)
                self.display = True
            self._unpark()
            _focus_now(box)

    def _close(self, controller_id: str | None) -> None:
        picked, self._picked = self._picked, None
        screen = self.screen
        # Hiding this and showing the choice in one frame. Each widget reports its change to
        # the screen from its own message queue, on the event loop's next turn; a batch that
        # ended here would let the screen paint on that turn with only the reports it had got
        # so far (the choice then painted a frame, ~16 ms, later). So the batch ends one turn
        # later, once every widget has reported.
        batch = self.app.batch_update()
        batch.__enter__()
        try:
            if self.has_class("overlay"):
                self._park()
            else:
                self.display = False
            if picked is not None:
                picked(controller_id)
            back = self._return_focus
            back = back if back is not None and back.is_attached else None
            if screen in self.app.screen_stack:
                _focus_now(back, screen)
            elif self.app.is_screen_installed(screen):  # swapped out by the choice (a
                # controller screen's twin came in), kept: restyled a moment later, not on
                # the frame's path (2-10 ms, traced). A screen the choice popped (the
                # SwitcherScreen dialog) is gone: nothing to give the focus back to.
                screen.set_timer(FOCUS_BACK_LATER_S, partial(_focus_now, back, screen))
        finally:
            asyncio.get_running_loop().call_soon(self._after_close, batch, screen)

    def _after_close(self, batch: AbstractContextManager[None], screen: Screen) -> None:
        _end_batch(batch, screen)
        if self.has_class("overlay") and self.is_attached:
            # Its lines for the next opening, after the switch's frame: asked for inside the
            # batch, Textual ran this at the first idle, before that frame (2-6 ms, traced).
            self.call_after_refresh(self._render_ahead)

    def _hint(self) -> str:
        if self.finder:
            verb = self.purpose[1] if self.purpose else "open"
            return f"Type to search · ↑↓ choose · Enter {verb} · Esc cancel"
        return "1–9 open · type a name to search every controller · Esc cancel"

    def _shortcut_text(self) -> str:
        if self.finder:
            return ""
        if not self.shortcuts:
            return "[dim]No recent controllers yet: type to search.[/dim]"
        lines = []
        for n, (row, pinned) in enumerate(self.shortcuts, start=1):
            pin = "📌" if pinned else "  "
            lines.append(f" [b]{n}[/b] {pin} {escape(row.name)} [dim]— {escape(row.customer_name)}"
                         "[/dim]")
        return "\n".join(lines)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "shortcut":
            # Two keystrokes: the switcher key, then a digit, while nothing is typed yet.
            # Otherwise the digit is part of the search (serial numbers have digits).
            box = self.query_one("#finder-input", SearchBox)
            return self.is_open and box._is_shortcut(str(parameters[0]))
        return True

    def action_shortcut(self, n: int) -> None:
        if n > len(self.shortcuts):  # a digit is never search text: say what it would open
            self.query_one("#finder-hint", TextBox).update(
                f"Nothing on {n} yet: {len(self.shortcuts) or 'no'} recent controller"
                f"{'s' if len(self.shortcuts) != 1 else ''}. Type a name to search · Esc cancel")
            return
        self._close(self.shortcuts[n - 1][0].controller_id)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        try:
            results = self.query_one("#finder-list", FleetList)
            query = event.value.strip()
            index = services_of(self).fleet.index
            hits = index.search(query) if (query and index) else []
            # Toggle what shows only when it changes: each toggle costs a layout pass.
            show = bool(query) or self.finder
            if results.has_class("hidden") == show:
                results.set_class(not show, "hidden")
                self.query_one("#switcher-items").display = not show
            results.set_rows(hits)
        finally:
            if isinstance(event.input, SearchBox):
                event.input.release()

    def action_move(self, step: int) -> None:
        self.query_one("#finder-list", FleetList).action_cursor(step)

    def action_choose(self) -> None:
        current = self.query_one("#finder-list", FleetList).current
        if current is not None:
            self._close(current[0].controller_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_choose()

    def on_fleet_list_selected(self, event: FleetList.Selected) -> None:
        event.stop()
        self._close(event.row.controller_id)

    def action_cancel(self) -> None:
        self._close(None)


class SwitcherScreen(KeymapFirst, PromptFrames, ModalScreen[str | None]):
    """The switcher as a modal dialog; dismisses with the chosen controller id (or None)."""

    def __init__(self, shortcuts: Shortcuts, finder: bool = False,
                 purpose: tuple[str, str] | None = None):
        super().__init__()
        self.shortcuts = shortcuts
        self.finder = finder
        self.purpose = purpose

    def compose(self) -> ComposeResult:
        yield Switcher()

    def on_mount(self) -> None:
        self.query_one(Switcher).open(self.shortcuts, self.dismiss, finder=self.finder,
                                      purpose=self.purpose)
