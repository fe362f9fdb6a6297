"""A widget's styles for each state of its focus, worked out by Textual's stylesheet once.

Textual restyles a widget from the whole stylesheet each time it gains or loses the focus: its
rules matched again, and a node built and matched for each of its component classes (a list
has seven). A record table took ~1.1 ms a change, twice a switch (the switcher takes the focus
and gives it back): on the digit's path (issue 18, traced). The styles a state gave are the
same the next time, as long as nothing they come from has changed: the stylesheet, the
widget's and its ancestors' names, classes and states. This keeps them by all of that.
"""

from __future__ import annotations

from textual.css.stylesheet import Stylesheet
from textual.widget import Widget

KEPT_STATES = 8  # a few looks (focused or not, a class or two); beyond, start again


class FocusStyles:
    """What Textual's stylesheet gave a childless widget, by everything it matched."""

    def __init__(self) -> None:
        self._kept: dict[tuple[object, ...], _Look] = {}
        self._rules: object = None  # the stylesheet's rules the kept styles came from

    def restyle(self, widget: Widget) -> None:
        """What `widget.update_node_styles()` does (it calls it the first time a state is
        seen), from what it kept when it can."""
        if widget._nodes:  # its children restyle with it: not kept here
            widget.update_node_styles()
            return
        rules = widget.app.stylesheet.rules  # a new list whenever the CSS or theme changes
        if rules is not self._rules:
            self._kept.clear()
            self._rules = rules
        key = _matched_by(widget)
        look = self._kept.get(key)
        if look is None:
            widget.update_node_styles()
            if len(self._kept) >= KEPT_STATES:
                self._kept.clear()
            self._kept[key] = _Look(widget)
        else:
            look.put_on(widget)


def _matched_by(widget: Widget) -> tuple[object, ...]:
    """What the stylesheet's selectors can see of `widget`: each node from the app down,
    with its type, id, classes and states (hover, focus, disabled, focus within). Not a
    node's place among its siblings (:first-child, :odd, :empty…), which Textual leaves out
    of its own cache too: no fieldtech style sheet uses them (a rule that does would need
    them here)."""
    return tuple((type(node), node.id, node.classes, node._pseudo_classes_cache_key,
                  node.has_focus_within if isinstance(node, Widget) else None,
                  frozenset(node.get_pseudo_classes()) if node is widget.app else None)
                 for node in widget.ancestors_with_self)


class _Look:
    """A widget's styles as the stylesheet set them: its own rules, its component classes'
    styles, its scrollbars' rules (a bar shows or not with the rows: kept as each shows)."""

    def __init__(self, widget: Widget) -> None:
        self.rules = dict(widget.styles.base._rules)
        self.components = dict(widget._component_styles)
        self.scrollbars = {bar.name: dict(bar.styles.base._rules) for bar in _scrollbars(widget)}

    def put_on(self, widget: Widget) -> None:
        if widget.styles.base._rules != self.rules:
            Stylesheet.replace_rules(widget, self.rules)  # as the stylesheet does (not animated)
        if widget._component_styles != self.components:
            widget._component_styles.clear()
            widget._component_styles.update(self.components)
            widget.notify_style_update()  # it keeps the component styles' colours
            widget.refresh()  # what the stylesheet does when they change
        for bar in _scrollbars(widget):
            rules = self.scrollbars.get(bar.name)
            if rules is None:  # not shown when this look was kept
                widget.app.stylesheet.update_nodes([bar], animate=True)
                self.scrollbars[bar.name] = dict(bar.styles.base._rules)
            elif bar.styles.base._rules != rules:
                Stylesheet.replace_rules(bar, rules)


def _scrollbars(widget: Widget) -> list[Widget]:
    """The scrollbars the stylesheet styles with `widget` (those it shows)."""
    if not widget.is_scrollable:
        return []
    vertical = widget.show_vertical_scrollbar and widget.scrollbar_size_vertical
    horizontal = widget.show_horizontal_scrollbar and widget.scrollbar_size_horizontal
    bars: list[Widget] = []
    if vertical:
        bars.append(widget.vertical_scrollbar)
    if horizontal:
        bars.append(widget.horizontal_scrollbar)
    if vertical and horizontal:
        bars.append(widget.scrollbar_corner)
    return bars
