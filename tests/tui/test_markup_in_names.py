"""Typed text that looks like markup (`[/]`, `[b]`, `[link=x]`) shows as typed, everywhere it
is shown, and never crashes a screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from textual.content import Content
from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.domain.models import Customer, Program, new_id
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from fieldtech.screens.markup import ZERO_WIDTH_SPACE, escape
from fieldtech.screens.switcher import Switcher
from tests.conftest import make_controller
from tests.tui.conftest import SIZE, make_app, settle, wait_for

CUSTOMER = "Ann [/] Lee"
CONTROLLER = "Yard [b]x"
MODEL = "ESP [link=x]y"
ZONE = "Bed [/] 2"
SUSPENDED = "Rose [$accent]"
PROGRAM = "Lawn [/"
LOCATION = "12 Oak [B]St"
NOTES = "Key under mat [i]\\"  # a backslash last: it must not eat the next tag
RENAMED = "Front [/] yard"


@pytest.mark.parametrize("typed", [
    "Bed [/] 2", "[b]x", "[link=x]y", "Lawn [/", "[/b]", "[$accent]", "[B]x", "[ b]", "a\\[b]c",
    "C:\\", "\\", "[[b]]", "cost $5", "[1]"])
def test_escaped_text_reads_back_as_typed_between_tags(typed: str) -> None:
    markup = f"[b]{escape(typed)}[/b] · [red]{escape(typed)}[/red]"
    shown = Content.from_markup(markup).plain.replace(ZERO_WIDTH_SPACE, "")
    assert shown == f"{typed} · {typed}"


def screen_text(app: FieldtechApp) -> str:
    """What the terminal shows now, dialogs and notifications included, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def seed(app: FieldtechApp) -> str:
    store = app.store
    customer = Customer(id=new_id(), name=CUSTOMER, address="1 [red]Elm")
    store.create_customer(customer)
    c = make_controller(customer, name=CONTROLLER, model=MODEL, location=LOCATION, notes=NOTES)
    zones = [replace(z, name=ZONE) if z.number == 1 else
             replace(z, name=SUSPENDED, suspended_until=date(2099, 1, 1)) if z.number == 2 else z
             for z in c.config.zones]
    programs = [Program(name=PROGRAM, days=[0], start_times=["06:00"], zone_minutes={1: 5})]
    store.create_controller(replace(c, config=replace(c.config, zones=zones, programs=programs)))
    return c.id


async def test_markup_like_names_show_as_typed_everywhere(tmp_path) -> None:
    app = make_app(tmp_path, customers=3, controllers=6)
    controller_id = seed(app)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            assert CUSTOMER in screen_text(app)  # the fleet

            app.open_controller(controller_id)
            await settle(pilot)
            shown = screen_text(app)
            for text in (CONTROLLER, CUSTOMER, MODEL, ZONE, SUSPENDED):
                assert text in shown, text  # the header and the zones

            await pilot.press("right_square_bracket")  # Programs
            await settle(pilot)
            assert PROGRAM in screen_text(app)
            await pilot.press("right_square_bracket")  # Details
            await settle(pilot)
            shown = screen_text(app)
            for text in (MODEL, LOCATION, NOTES, f"2 {SUSPENDED} until 2099-01-01"):
                assert text in shown, text

            await pilot.press("escape")  # from the fleet, it is the most recent one
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert f"1    {CONTROLLER} — {CUSTOMER}" in screen_text(app)
            await pilot.press("1")  # back to it
            await settle(pilot)
            await pilot.press("f")  # the finder
            await pilot.press(*"yard")
            await settle(pilot)
            assert app.screen.query_one(Switcher).is_open
            assert CONTROLLER in screen_text(app)
            await pilot.press("escape")
            await settle(pilot)

            await pilot.press("left_square_bracket")  # Programs: its form, with an error
            await settle(pilot)
            await pilot.press("e")
            assert isinstance(app.screen, FormScreen)
            app.screen.query_one("#in-start_times", Input).value = "[/] 06:00"
            app.screen.query_one("#in-days", Input).value = "[b]x"
            app.screen.query_one("#in-zone_minutes", Input).value = "[link=x]y"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, FormScreen), "an invalid form stays open"
            shown = screen_text(app)
            for text in (f"Program — {PROGRAM}", "“[b]x” is not a day", "(“[link=x]y”)",
                         "00:00–23:59 ([/])"):
                assert text in shown, text
            await pilot.press("escape", "y")  # discard the changes
            await settle(pilot)

            await pilot.press("D")  # the delete confirmation names it and its customer
            await settle(pilot)
            assert isinstance(app.screen, ConfirmScreen)
            assert f"“{CONTROLLER}” ({CUSTOMER}, not linked)" in screen_text(app)
            await pilot.press("n")
            await settle(pilot)

            await pilot.press("d")  # edit the controller: the notification names it
            assert isinstance(app.screen, FormScreen)
            assert f"Controller — {CONTROLLER}" in screen_text(app)
            app.screen.query_one("#in-name", Input).value = RENAMED
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.store.controller(controller_id).name == RENAMED)
            assert isinstance(app.screen, ControllerScreen)
            assert f"Controller {RENAMED} — saved," in screen_text(app)  # the toast wraps

            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, FleetScreen) and RENAMED in screen_text(app)
        assert app.return_code in (None, 0)
    finally:
        app.store.close()
